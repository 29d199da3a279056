import type { HotCounts } from "../../core/ports/hot.js";
import { ExpiringMap } from "./expiring.js";

// Hot-content counts in one process's memory, for tests: the same buckets,
// ordering and expiry as the Redis ones, on an injectable clock.

type Counts = Map<string, number>;

const sum = (into: Counts, from: Counts | undefined) => {
  for (const [k, n] of from ?? []) into.set(k, (into.get(k) ?? 0) + n);
};

export class MemoryHotCounts implements HotCounts {
  private readonly deliveries: ExpiringMap<Counts>;
  private readonly stores: ExpiringMap<Counts>;
  private readonly hot = new Map<string, number>();
  private readonly extra = new Map<string, Set<string>>();

  constructor(now: () => number = Date.now) {
    this.deliveries = new ExpiringMap(now);
    this.stores = new ExpiringMap(now);
  }

  async add(bucket: number, hashes: Counts, stores: Counts, lifeMs: number): Promise<void> {
    for (const [map, counts] of [
      [this.deliveries, hashes],
      [this.stores, stores],
    ] as const) {
      if (counts.size === 0) continue;
      const into = new Map(map.get(String(bucket)) ?? []);
      sum(into, counts);
      map.set(String(bucket), into, lifeMs);
    }
  }

  async rates(buckets: number[], o: { min: number; limit: number }): Promise<[string, number][]> {
    const total: Counts = new Map();
    for (const b of buckets) sum(total, this.deliveries.get(String(b)));
    // Redis orders equal scores by member, descending, in a reverse range.
    return [...total]
      .filter(([, n]) => n >= o.min)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1))
      .slice(0, o.limit);
  }

  async storeLoad(buckets: number[]): Promise<Counts> {
    const total: Counts = new Map();
    for (const b of buckets) sum(total, this.stores.get(String(b)));
    return total;
  }

  async markHot(hashes: string[], at: number): Promise<void> {
    for (const hash of hashes) this.hot.set(hash, at);
  }

  async hotUntil(before: number): Promise<string[]> {
    return [...this.hot]
      .filter(([, at]) => at <= before)
      .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
      .map(([hash]) => hash);
  }

  async extras(hash: string): Promise<string[]> {
    return [...(this.extra.get(hash) ?? [])];
  }

  async addExtra(hash: string, store: string): Promise<void> {
    this.extra.set(hash, new Set([...(this.extra.get(hash) ?? []), store]));
  }

  async dropExtras(hash: string, stores: string[]): Promise<void> {
    for (const s of stores) this.extra.get(hash)?.delete(s);
  }

  async forget(hash: string): Promise<void> {
    this.hot.delete(hash);
    this.extra.delete(hash);
  }
}

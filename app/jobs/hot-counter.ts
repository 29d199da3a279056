import type { Redis } from "ioredis";
import type { Logger } from "../log.js";

// Delivery counts for hot-content scaling. The deliver route only bumps
// in-memory counters; once per flushEvery they go to Redis in one pipeline,
// into time buckets (a sorted set of hash → deliveries, a hash of store →
// deliveries), each expiring once the window has passed it. The sliding window
// is the union of the buckets it covers. No Redis round trip per delivery.

export interface HotWindow {
  window: number;
  flushEvery: number;
}

/** Bucket length: a tenth of the window, at least a second. */
export const bucketMs = (window: number) => Math.max(1000, Math.ceil(window / 10));

export const hotKeys = (prefix: string) => ({
  /** ZSET hash → deliveries in one bucket. */
  deliveries: (bucket: number) => `${prefix}:hot:deliveries:${bucket}`,
  /** HASH store → deliveries in one bucket. */
  stores: (bucket: number) => `${prefix}:hot:stores:${bucket}`,
  /** ZSET hash → when it was last seen hot (ms): the hashes that have extra copies, or are getting them. */
  active: `${prefix}:hot:active`,
  /** SET of the stores that got a copy of `hash` for its heat. */
  extra: (hash: string) => `${prefix}:hot:extra:${hash}`,
  lock: `${prefix}:hot:lock`,
  /** Where a window's buckets are summed; made and dropped inside one MULTI, so one key serves every caller. */
  sum: `${prefix}:hot:sum`,
});

/** The buckets a window ending at `now` covers, oldest first. */
export function windowBuckets(now: number, window: number): number[] {
  const size = bucketMs(window);
  const last = Math.floor(now / size);
  const count = Math.ceil(window / size);
  return Array.from({ length: count }, (_, i) => last - count + 1 + i);
}

/** Most distinct hashes held between flushes; beyond it new hashes wait for the next second. */
const MAX_PENDING = 100_000;

export class HotCounter {
  private hashes = new Map<string, number>();
  private stores = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private readonly keys: ReturnType<typeof hotKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly s: HotWindow,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = hotKeys(prefix);
  }

  /** One delivery of `hash` from `store`: memory only. */
  record(hash: string, store: string): void {
    const n = this.hashes.get(hash);
    if (n !== undefined) this.hashes.set(hash, n + 1);
    else if (this.hashes.size < MAX_PENDING) this.hashes.set(hash, 1);
    this.stores.set(store, (this.stores.get(store) ?? 0) + 1);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), Math.max(100, this.s.flushEvery));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  async flush(): Promise<void> {
    if (this.hashes.size === 0 && this.stores.size === 0) return;
    const [hashes, stores] = [this.hashes, this.stores];
    this.hashes = new Map();
    this.stores = new Map();
    const bucket = Math.floor(this.now() / bucketMs(this.s.window));
    // Kept for the window plus two buckets: long enough for every reader of the window.
    const life = this.s.window + 2 * bucketMs(this.s.window);
    const pipe = this.redis.pipeline();
    const d = this.keys.deliveries(bucket);
    for (const [hash, n] of hashes) pipe.zincrby(d, n, hash);
    if (hashes.size > 0) pipe.pexpire(d, life);
    const st = this.keys.stores(bucket);
    for (const [store, n] of stores) pipe.hincrby(st, store, n);
    if (stores.size > 0) pipe.pexpire(st, life);
    try {
      await pipe.exec();
    } catch (err) {
      // Heat is an estimate: a lost second of counts only delays a reaction.
      this.log.debug({ err: (err as Error).message }, "hot: delivery counts not flushed");
    }
  }
}

/** Deliveries per hash over the window, at least `min`, most first (at most `limit`). */
export async function windowRates(
  redis: Redis,
  prefix: string,
  window: number,
  now: number,
  o: { min: number; limit: number },
): Promise<[string, number][]> {
  const keys = hotKeys(prefix);
  const buckets = windowBuckets(now, window).map((b) => keys.deliveries(b));
  const res = await redis
    .multi()
    .zunionstore(keys.sum, buckets.length, ...buckets)
    .zrevrangebyscore(keys.sum, "+inf", o.min, "WITHSCORES", "LIMIT", 0, o.limit)
    .del(keys.sum)
    .exec();
  const failed = res?.find(([err]) => err);
  if (!res || failed) throw failed?.[0] ?? new Error("transaction aborted");
  const flat = res[1]![1] as string[];
  const out: [string, number][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}

/** Deliveries per store over the window. */
export async function storeLoad(
  redis: Redis,
  prefix: string,
  window: number,
  now: number,
): Promise<Map<string, number>> {
  const keys = hotKeys(prefix);
  const pipe = redis.pipeline();
  for (const b of windowBuckets(now, window)) pipe.hgetall(keys.stores(b));
  const out = new Map<string, number>();
  for (const [err, value] of (await pipe.exec()) ?? []) {
    if (err) throw err;
    for (const [store, n] of Object.entries(value as Record<string, string>))
      out.set(store, (out.get(store) ?? 0) + Number(n));
  }
  return out;
}

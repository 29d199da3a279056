import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import { copiesOf } from "../adapters/couch/inventory.js";
import type { Couch } from "../adapters/couch/index.js";
import type { PeerTable } from "../adapters/couch/peers.js";
import { type ExistenceRecord, existenceRecord } from "../core/existence.js";
import { INVENTORY_CHANNEL, type InventoryDoc } from "../core/inventory.js";
import { isLive } from "../core/peer.js";
import { AppError } from "../errors.js";
import type { Logger } from "../log.js";

/**
 * Existence with a short-lived in-process cache of each hash's copies. Stores
 * announce every put/remove on Redis and the entry is dropped at once, so a
 * fresh upload is never "not found". Availability is applied on every read from
 * the peer table, so a dead store drops out of the map without waiting for the cache.
 * Negatives are not cached. When CouchDB is down, an expired entry still answers.
 */
export class Existence {
  private readonly cache: LRUCache<string, InventoryDoc[]>;
  private sub?: Redis;

  constructor(
    private readonly couch: Couch,
    private readonly peers: PeerTable,
    private readonly redis: Redis,
    private readonly prefix: string,
    life: number,
    private readonly log: Logger,
  ) {
    this.cache = new LRUCache({ max: 200_000, ttl: Math.max(life, 1), noDeleteOnStaleGet: true });
  }

  async start(): Promise<void> {
    this.sub = this.redis.duplicate();
    this.sub.on("error", () => undefined);
    this.sub.on("message", (_channel: string, hash: string) => this.invalidate(hash));
    // Reconnects resubscribe by themselves (ioredis autoResubscribe); a missed message only costs a TTL.
    await this.sub.subscribe(INVENTORY_CHANNEL(this.prefix)).catch((err) => {
      this.log.warn({ err: err.message }, "existence: inventory channel not subscribed; relying on TTL");
    });
  }

  stop(): void {
    this.sub?.disconnect();
  }

  invalidate(hash: string): void {
    this.cache.delete(hash);
  }

  async copies(hash: string): Promise<InventoryDoc[]> {
    const fresh = this.cache.get(hash);
    if (fresh) return fresh;
    try {
      const copies = await copiesOf(this.couch, hash);
      if (copies.length > 0) this.cache.set(hash, copies);
      else this.cache.delete(hash);
      return copies;
    } catch (err) {
      const stale = this.cache.get(hash, { allowStale: true });
      if (stale && err instanceof AppError && err.status === 503) return stale;
      throw err;
    }
  }

  liveStore = (name: string): boolean => {
    const peer = this.peers.store(name);
    return peer !== undefined && isLive(peer);
  };

  async record(hash: string): Promise<ExistenceRecord> {
    return existenceRecord(hash, await this.copies(hash), this.liveStore);
  }

  async records(hashes: string[]): Promise<ExistenceRecord[]> {
    return Promise.all(hashes.map((h) => this.record(h)));
  }

  /** Live copies with their peer docs, for picking a store to read from. */
  async liveCopies(hash: string) {
    const copies = await this.copies(hash);
    return copies.flatMap((c) => {
      const peer = this.peers.store(c.store);
      return peer && isLive(peer) ? [{ copy: c, peer }] : [];
    });
  }

  cacheStats(): { size: number; max: number } {
    return { size: this.cache.size, max: this.cache.max };
  }

  cachedHashes(): string[] {
    return [...this.cache.keys()];
  }

  flush(): number {
    const n = this.cache.size;
    this.cache.clear();
    return n;
  }
}

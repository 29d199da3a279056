import { LRUCache } from "lru-cache";
import { type ExistenceRecord, existenceRecord } from "../core/existence.js";
import { INVENTORY_CHANNEL, type InventoryDoc } from "../core/inventory.js";
import { isLive, type LiveHolder, liveHolders } from "../core/peer.js";
import type { Inventory } from "../core/ports/inventory.js";
import type { Notices } from "../core/ports/notices.js";
import type { PeerView } from "../core/ports/peers.js";
import { AppError, BackendUnavailable } from "../errors.js";
import { Batcher } from "../core/batch.js";

/**
 * Existence with a short-lived in-process cache of each hash's copies. Stores
 * announce every put/remove on Redis and the entry is dropped at once, so a
 * fresh upload is never "not found". Availability is applied on every read from
 * the peer table, so a dead store drops out of the map without waiting for the cache.
 * Negatives are not cached. An expired entry answers at once while one request
 * refreshes it, so a slow or unreachable CouchDB never holds up a delivery of
 * known content; without an entry, an unreachable CouchDB is a 503.
 * Concurrent lookups share one CouchDB request (a batch of hashes by id).
 */
const storeOf = (p: { prism?: string; name: string }) => ({ prism: p.prism ?? "", name: p.name });

export class Existence {
  private readonly cache: LRUCache<string, InventoryDoc[]>;
  private readonly refreshing = new Map<string, Promise<InventoryDoc[]>>();
  private readonly reads: Batcher<string, InventoryDoc[]>;

  constructor(
    private readonly inventory: Pick<Inventory, "copiesOnStores">,
    private readonly peers: Pick<PeerView, "ready" | "stores" | "store">,
    channels: Notices,
    prefix: string,
    life: number,
  ) {
    this.cache = new LRUCache({ max: 200_000, ttl: Math.max(life, 1), noDeleteOnStaleGet: true });
    channels.on(INVENTORY_CHANNEL(prefix), (hash) => this.invalidate(hash));
    this.reads = new Batcher(
      async (hashes) => {
        const stores = this.peers.stores();
        // Asked of no store, every file would look absent: nothing can be called absent yet.
        if (stores.length === 0) throw new BackendUnavailable("No store known yet (existence)");
        const found = await this.inventory.copiesOnStores(hashes, stores.map(storeOf));
        return hashes.map((h) => found.get(h) ?? []);
      },
      { maxBatch: 200, maxQueue: 10_000, windowMs: 0 },
    );
  }

  invalidate(hash: string): void {
    this.cache.delete(hash);
    // A read already on its way may predate the change: its answer is not cached.
    this.refreshing.delete(hash);
  }

  async copies(hash: string): Promise<InventoryDoc[]> {
    // Copies are looked up on the stores the table knows: before its first load every file would look absent.
    if (!this.peers.ready) throw new BackendUnavailable("Peer table not loaded yet (existence)");
    const fresh = this.cache.get(hash);
    if (fresh) return fresh;
    const stale = this.cache.get(hash, { allowStale: true });
    if (stale) {
      this.load(hash).catch(() => undefined);
      return stale;
    }
    return this.load(hash);
  }

  /** One CouchDB read per hash at a time, however many requests wait for it. */
  private load(hash: string): Promise<InventoryDoc[]> {
    const known = this.refreshing.get(hash);
    if (known) return known;
    const pending: Promise<InventoryDoc[]> = this.reads
      .submit(hash)
      .then((copies) => {
        if (this.refreshing.get(hash) !== pending) return copies;
        if (copies.length > 0) this.cache.set(hash, copies);
        else this.cache.delete(hash);
        return copies;
      })
      .catch((err) => {
        const stale = this.cache.get(hash, { allowStale: true });
        if (stale && err instanceof AppError && err.status === 503) return stale;
        throw err;
      })
      .finally(() => {
        if (this.refreshing.get(hash) === pending) this.refreshing.delete(hash);
      });
    this.refreshing.set(hash, pending);
    return pending;
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
  async liveCopies(hash: string): Promise<LiveHolder[]> {
    return liveHolders(await this.copies(hash), (name) => this.peers.store(name));
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

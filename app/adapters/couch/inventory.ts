import type { Redis } from "ioredis";
import { type InventoryDoc, INVENTORY_CHANNEL, hashRange, inventoryKey } from "../../core/inventory.js";
import { type Couch, couch, getOrUndefined } from "./index.js";

export async function copiesOf(db: Couch, hash: string): Promise<InventoryDoc[]> {
  const res = await couch(`inventory ${hash}`, () =>
    db.db<InventoryDoc>("inventory").list({ ...hashRange(hash), include_docs: true }),
  );
  return res.rows.flatMap((r) => (r.doc ? [r.doc as InventoryDoc] : []));
}

/**
 * Copies of many hashes in one request: `_all_docs` by id, for every store the
 * caller knows of. On CouchDB and its stand-in alike a lookup by id costs no
 * index build, where a view keyed by hash must first index every doc written
 * since its last query (on the stand-in, more than the writes themselves).
 */
export async function copiesOnStores(
  db: Couch,
  hashes: string[],
  stores: Array<{ prism: string; name: string }>,
): Promise<Map<string, InventoryDoc[]>> {
  const out = new Map<string, InventoryDoc[]>(hashes.map((h) => [h, []]));
  const keys = hashes.flatMap((h) => stores.map((s) => inventoryKey(h, s.prism, s.name)));
  if (keys.length === 0) return out;
  const res = await couch(`inventory of ${hashes.length} hashes`, () =>
    db.db<InventoryDoc>("inventory").fetch({ keys }),
  );
  for (const row of res.rows) {
    const doc = (row as { doc?: InventoryDoc | null }).doc;
    if (doc) out.get(doc.hash)?.push(doc);
  }
  return out;
}

export async function getCopy(db: Couch, hash: string, prism: string, store: string) {
  return getOrUndefined(db.db<InventoryDoc>("inventory"), inventoryKey(hash, prism, store));
}

/** Tells every prism that a hash's copies changed, so cached existence is dropped at once. */
export async function announceChange(redis: Redis, prefix: string, hash: string): Promise<void> {
  await redis.publish(INVENTORY_CHANNEL(prefix), hash);
}

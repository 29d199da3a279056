import type { Redis } from "ioredis";
import { type InventoryDoc, INVENTORY_CHANNEL, hashRange, inventoryKey } from "../../core/inventory.js";
import { type Couch, couch, getOrUndefined, isConflict, isNotFound, upsert } from "./index.js";

export async function copiesOf(db: Couch, hash: string): Promise<InventoryDoc[]> {
  const res = await couch(`inventory ${hash}`, () =>
    db.db<InventoryDoc>("inventory").list({ ...hashRange(hash), include_docs: true }),
  );
  return res.rows.flatMap((r) => (r.doc ? [r.doc as InventoryDoc] : []));
}

/** Copies of many hashes in one request (POST _all_docs would need every key; a range per hash is cheaper). */
export async function copiesOfMany(db: Couch, hashes: string[]): Promise<Map<string, InventoryDoc[]>> {
  const out = new Map<string, InventoryDoc[]>(hashes.map((h) => [h, []]));
  await Promise.all(hashes.map(async (h) => out.set(h, await copiesOf(db, h))));
  return out;
}

export async function putCopy(db: Couch, doc: InventoryDoc): Promise<void> {
  const inv = db.db<InventoryDoc>("inventory");
  const id = inventoryKey(doc.hash, doc.prism, doc.store);
  // New copies are the common case: one blind insert, and read-modify-write only if the doc exists.
  try {
    await couch(`put ${id}`, () => inv.insert({ ...doc, _id: id }));
    return;
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
  await upsert<InventoryDoc>(inv, id, (cur) => ({ ...doc, createdAt: cur?.createdAt ?? doc.createdAt }));
}

export async function getCopy(db: Couch, hash: string, prism: string, store: string) {
  return getOrUndefined(db.db<InventoryDoc>("inventory"), inventoryKey(hash, prism, store));
}

export async function removeCopy(db: Couch, hash: string, prism: string, store: string): Promise<void> {
  const inv = db.db<InventoryDoc>("inventory");
  for (let i = 0; i < 5; i++) {
    const cur = await getOrUndefined(inv, inventoryKey(hash, prism, store));
    if (!cur) return;
    try {
      await couch("remove copy", () => inv.destroy(cur._id, cur._rev));
      return;
    } catch (err) {
      if (isNotFound(err)) return;
      if (i === 4) throw err;
    }
  }
}

/** Tells every prism that a hash's copies changed, so cached existence is dropped at once. */
export async function announceChange(redis: Redis, prefix: string, hash: string): Promise<void> {
  await redis.publish(INVENTORY_CHANNEL(prefix), hash);
}

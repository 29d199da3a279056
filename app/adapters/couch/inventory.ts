import type { Config } from "../../config.js";
import { type InventoryDoc, hashRange, inventoryKey } from "../../core/inventory.js";
import type {
  CopyId,
  CopyWrite,
  Inventory,
  Owner,
  PageOptions,
  StoredCopy,
  WriteOutcome,
} from "../../core/ports/inventory.js";
import { bulkWrite, fetchDocs, fetchRevs } from "./bulk.js";
import { type Couch, couch, getOrUndefined } from "./index.js";
import { InventoryWriter } from "./inventory-writer.js";
import { copyIdPages, copyPages, idsAfter, keyPages } from "./paging.js";

// The Inventory port on CouchDB (`oose-inventory`). Lookups answer at once
// (an outage is a 503); the tool-sized reads and writes (fetch, revisions,
// bulkWrite, pages) ride out a short outage with retries. Records and removals
// go through the node's one group-commit writer.

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

export async function getCopy(db: Couch, hash: string, prism: string, store: string): Promise<StoredCopy | undefined> {
  return getOrUndefined(db.db<InventoryDoc>("inventory"), inventoryKey(hash, prism, store)) as Promise<
    StoredCopy | undefined
  >;
}

/** The writer's batches when the caller sets none (the config's defaults). */
const DEFAULT_BATCH: Config["couchdb"]["batch"] = { maxDocs: 200, maxQueue: 5000, windowMs: 0 };

export class CouchInventory implements Inventory {
  /** The node's group-commit writer: its observer counts the `_bulk_docs` requests. */
  readonly writer: InventoryWriter;

  constructor(
    private readonly db: Couch,
    { maxDocs, maxQueue, windowMs }: Config["couchdb"]["batch"] = DEFAULT_BATCH,
  ) {
    this.writer = new InventoryWriter(db, { maxBatch: maxDocs, maxQueue, windowMs });
  }

  private get docs() {
    return this.db.db<InventoryDoc>("inventory");
  }

  copiesOf(hash: string): Promise<InventoryDoc[]> {
    return copiesOf(this.db, hash);
  }

  copiesOnStores(hashes: string[], stores: Array<{ prism: string; name: string }>) {
    return copiesOnStores(this.db, hashes, stores);
  }

  getCopy(hash: string, prism: string, store: string): Promise<StoredCopy | undefined> {
    return getCopy(this.db, hash, prism, store);
  }

  fetch(ids: string[]): Promise<Map<string, StoredCopy>> {
    return fetchDocs<InventoryDoc>(this.docs, ids, undefined, "copies");
  }

  revisions(ids: string[]): Promise<Map<string, string>> {
    return fetchRevs(this.docs, ids, undefined, "copies");
  }

  bulkWrite(docs: CopyWrite[]): Promise<WriteOutcome[]> {
    return bulkWrite(this.docs, docs, undefined, "copies");
  }

  copyPages(by: Owner, name: string, o: PageOptions): AsyncGenerator<StoredCopy[]> {
    return copyPages(this.db, by, name, o);
  }

  copyIdPages(by: Owner, name: string, o: PageOptions): AsyncGenerator<CopyId[]> {
    return copyIdPages(this.db, by, name, o);
  }

  idPages(o: PageOptions): AsyncGenerator<string[]> {
    return keyPages(this.db, o);
  }

  idsAfter(after: string | undefined, pageSize: number): AsyncGenerator<string[]> {
    return idsAfter(this.db, after, pageSize);
  }

  record(doc: InventoryDoc): Promise<void> {
    return this.writer.put(doc);
  }

  remove(hash: string, prism: string, store: string): Promise<void> {
    return this.writer.remove(hash, prism, store);
  }
}

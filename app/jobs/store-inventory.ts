import { type Couch, couch, isNotFound } from "../adapters/couch/index.js";
import type { InventoryDoc } from "../core/inventory.js";

// The inventory docs of one store, a page at a time, never the whole database
// in memory. Through the byStore view when the migrations installed it;
// otherwise through _all_docs in key order, keeping this store's docs.

export interface StorePages {
  /** The next page of this store's docs; empty when done. `removed`: how many of the last page's docs the caller deleted. */
  next(removed?: number): Promise<InventoryDoc[]>;
  /** How the pages are read, once the first one is: the byStore view, or a scan of _all_docs. */
  readonly via: "view" | "scan" | undefined;
}

interface Row {
  id: string;
  doc?: InventoryDoc | null;
}

const isCopy = (doc: InventoryDoc | null | undefined, store: string): doc is InventoryDoc =>
  !!doc && doc.store === store && typeof doc.hash === "string" && typeof doc.size === "number";

export function storePages(db: Couch, store: string, pageSize: number): StorePages {
  const inv = db.db<InventoryDoc>("inventory");
  let viaView: boolean | undefined;
  let skip = 0;
  let after: string | undefined;
  let lastPage = 0;
  let done = false;

  // The view pages by offset (PouchDB lacks startkey_docid), so deletions the caller made shift it back.
  const fromView = async (removed: number): Promise<InventoryDoc[] | undefined> => {
    skip += lastPage - removed;
    for (;;) {
      let rows: Row[];
      try {
        const res = await couch(`inventory of ${store}`, () =>
          inv.view("inventory", "byStore", { key: [store], include_docs: true, limit: pageSize, skip }),
        );
        rows = res.rows as Row[];
      } catch (err) {
        if (isNotFound(err) && viaView === undefined) return undefined;
        throw err;
      }
      lastPage = rows.length;
      if (rows.length < pageSize) done = true;
      const mine = rows.flatMap((r) => (isCopy(r.doc, store) ? [r.doc] : []));
      if (mine.length > 0 || done) return mine;
      skip += lastPage;
    }
  };

  // _all_docs pages by key, which deletions cannot shift.
  const fromAllDocs = async (): Promise<InventoryDoc[]> => {
    for (;;) {
      const res = await couch(`inventory scan for ${store}`, () =>
        inv.list({
          include_docs: true,
          limit: pageSize,
          ...(after === undefined ? {} : { startkey: `${after}\u0000` }),
        }),
      );
      const rows = res.rows as Row[];
      if (rows.length < pageSize) done = true;
      if (rows.length > 0) after = rows[rows.length - 1]!.id;
      const mine = rows.flatMap((r) => (!r.id.startsWith("_design/") && isCopy(r.doc, store) ? [r.doc] : []));
      if (mine.length > 0 || done) return mine;
    }
  };

  return {
    get via() {
      return viaView === undefined ? undefined : viaView ? ("view" as const) : ("scan" as const);
    },
    async next(removed = 0) {
      if (done) return [];
      if (viaView !== false) {
        const page = await fromView(removed);
        if (page !== undefined) {
          viaView = true;
          return page;
        }
        viaView = false;
      }
      return fromAllDocs();
    },
  };
}

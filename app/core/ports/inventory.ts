import type { InventoryDoc } from "../inventory.js";

// The inventory of copies, `<hash>:<prism>:<store>` one doc per copy, as the
// roles, jobs and tools read and write it. Paging never holds the whole
// inventory: pages follow id order, and a page starts after the last id seen,
// so deletions behind a pager never shift it.

/** A doc as stored: with its id and revision. */
export type StoredCopy = InventoryDoc & { _id: string; _rev: string };

/** A copy named by its id alone. */
export interface CopyId {
  id: string;
  hash: string;
  prism: string;
  store: string;
}

/** A bulk write: a doc to create (no `_rev`) or update, or a deletion at a revision. */
export type CopyWrite = (InventoryDoc & { _id: string; _rev?: string }) | { _id: string; _rev: string; _deleted: true };

export type WriteOutcome = "ok" | "conflict" | { error: string };

export interface PageOptions {
  pageSize: number;
  /** Called once when a slower way of paging is taken, to tell the operator. */
  note?: (message: string) => void;
}

/** Whose copies to page: one store's (store names are unique cluster-wide) or one prism's. */
export type Owner = "store" | "prism";

export interface Inventory {
  /** Every copy of `hash`. */
  copiesOf(hash: string): Promise<InventoryDoc[]>;
  /** The copies of many hashes on the given stores, looked up by id in one request. */
  copiesOnStores(
    hashes: string[],
    stores: Array<{ prism: string; name: string }>,
  ): Promise<Map<string, InventoryDoc[]>>;
  /** One copy; undefined when it is not recorded. */
  getCopy(hash: string, prism: string, store: string): Promise<StoredCopy | undefined>;
  /** The current docs of `ids` (deleted and missing ones are absent). */
  fetch(ids: string[]): Promise<Map<string, StoredCopy>>;
  /** The current revisions of `ids` (deleted and missing ones are absent). */
  revisions(ids: string[]): Promise<Map<string, string>>;
  /** Writes docs in one request: one outcome per doc, in order; a stale revision is a conflict. */
  bulkWrite(docs: CopyWrite[]): Promise<WriteOutcome[]>;
  /** One owner's copies with their docs, in id order. */
  copyPages(by: Owner, name: string, o: PageOptions): AsyncGenerator<StoredCopy[]>;
  /** Like copyPages, ids only. */
  copyIdPages(by: Owner, name: string, o: PageOptions): AsyncGenerator<CopyId[]>;
  /** Every copy id, in id order. */
  idPages(o: PageOptions): AsyncGenerator<string[]>;
  /** Every copy id after all of hash `after`'s (all ids without it), in id order, retried through outages. */
  idsAfter(after: string | undefined, pageSize: number): AsyncGenerator<string[]>;
  /** Records a copy (group commit); resolves once the inventory holds it, keeping an existing doc's createdAt. */
  record(doc: InventoryDoc): Promise<void>;
  /** Forgets a copy (idempotent, group commit); resolves once the inventory no longer lists it. */
  remove(hash: string, prism: string, store: string): Promise<void>;
}

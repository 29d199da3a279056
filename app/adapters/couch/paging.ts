import { type InventoryDoc, parseCopyId } from "../../core/inventory.js";
import type { CopyId, Owner, PageOptions, StoredCopy } from "../../core/ports/inventory.js";
import { InventoryViewsMissing } from "../../errors.js";
import { type Couch, isNotFound } from "./index.js";
import { pagesByDocid } from "./pouch.js";
import { retrying } from "./retry.js";

// Paging through the inventory without holding it: one store's or one prism's
// copies (views inventory/byStore and byPrism), or every id (keyList/all, or
// _all_docs). A view page starts after the last row seen (startkey_docid), so
// deletions behind the pager never shift it. On a server that ignores
// startkey_docid (paging it by offset would cost the square of the rows), the
// pages come from _all_docs by id instead, filtered by the id's
// `:<prism>:<store>` part. The design docs are `oose migrate up`'s.

interface ViewRow {
  id: string;
  key: unknown;
  doc?: StoredCopy | null;
}

const isDesign = (id: string) => id.startsWith("_design/");

/** Thrown when a view cannot be paged by docid here: the caller reads _all_docs instead. */
class NoViewPaging extends Error {}

async function* viewPages(
  couchDb: Couch,
  view: "byStore" | "byPrism",
  key: string,
  o: PageOptions,
  docs: boolean,
): AsyncGenerator<ViewRow[]> {
  const db = couchDb.db<InventoryDoc>("inventory");
  if ((await pagesByDocid(couchDb, db, "inventory", view, key)) === false) throw new NoViewPaging();
  const base = { startkey: [key], endkey: [key], limit: o.pageSize, include_docs: docs };
  let after: string | undefined;
  let last = new Set<string>();
  for (;;) {
    const extra = after === undefined ? {} : { startkey_docid: after, skip: 1 };
    const rows = (await retrying(`view ${view}`, () => db.view("inventory", view, { ...base, ...extra })))
      .rows as ViewRow[];
    if (rows.length === 0) return;
    // Never loop on a server that turns out to ignore startkey_docid after all.
    if (last.has(rows[0]!.id)) throw new Error(`view ${view}: the server ignored startkey_docid`);
    last = new Set(rows.map((r) => r.id));
    after = rows.at(-1)!.id;
    yield rows;
    if (rows.length < o.pageSize) return;
  }
}

/** A missing design doc is a deployment that skipped `oose migrate up`: said plainly, never read around. */
function viewsMissing(err: unknown, view: string): unknown {
  return isNotFound(err) ? new InventoryViewsMissing(`View ${view} is missing: run \`oose migrate up\``) : err;
}

/**
 * Every doc from _all_docs, page by page, from key `start` on (raw collation: the next page starts at
 * `last + "\0"`). Design docs are left out.
 */
export async function* docPages(
  couchDb: Couch,
  o: PageOptions & { docs?: boolean; start?: string },
): AsyncGenerator<{ id: string; doc?: StoredCopy }[]> {
  const db = couchDb.db<InventoryDoc>("inventory");
  let start = o.start;
  for (;;) {
    const res = await retrying("list inventory", () =>
      db.list({
        limit: o.pageSize,
        include_docs: o.docs ?? false,
        ...(start === undefined ? {} : { startkey: start }),
      }),
    );
    if (res.rows.length === 0) return;
    start = `${res.rows.at(-1)!.id}\u0000`;
    const rows = res.rows
      .filter((r) => !isDesign(r.id))
      .map((r) => ({ id: r.id, doc: (r.doc ?? undefined) as StoredCopy | undefined }));
    if (rows.length > 0) yield rows;
    if (res.rows.length < o.pageSize) return;
  }
}

/**
 * Every inventory id, page by page, through the keyList/all view (as OOSE's
 * clonetool did, but never cached). Keys are unique, so a page starts at the
 * last key with skip=1.
 */
export async function* keyPages(couchDb: Couch, o: PageOptions): AsyncGenerator<string[]> {
  const db = couchDb.db<InventoryDoc>("inventory");
  let after: string | undefined;
  for (;;) {
    let rows: ViewRow[];
    try {
      const params = after === undefined ? { limit: o.pageSize } : { startkey: after, skip: 1, limit: o.pageSize };
      rows = (await retrying("view keyList", () => db.view("keyList", "all", params))).rows as ViewRow[];
    } catch (err) {
      throw viewsMissing(err, "keyList/all");
    }
    const ids = rows.map((r) => r.id).filter((id) => !isDesign(id));
    if (rows.length === 0) return;
    after = rows.at(-1)!.key as string;
    if (ids.length > 0) yield ids;
    if (rows.length < o.pageSize) return;
  }
}

/** Inventory ids in key order, after every id of hash `after` (raw collation, as in hashRange). */
export async function* idsAfter(couchDb: Couch, after: string | undefined, pageSize: number): AsyncGenerator<string[]> {
  const start = after === undefined ? undefined : `${after}:\ufff0`;
  for await (const rows of docPages(couchDb, { pageSize, start })) yield rows.map((r) => r.id);
}

const owns = (by: Owner, name: string, parts: { prism: string; store: string }) =>
  (by === "store" ? parts.store : parts.prism) === name;

/** The rows under one owner: from its view, or, without a usable view, from _all_docs filtered by id. */
async function* ownRows(
  couchDb: Couch,
  by: Owner,
  name: string,
  o: PageOptions,
  docs: boolean,
): AsyncGenerator<{ id: string; doc?: StoredCopy | null }[]> {
  const view = by === "store" ? "byStore" : "byPrism";
  let yielded = false;
  try {
    for await (const rows of viewPages(couchDb, view, name, o, docs)) {
      yielded = true;
      yield rows;
    }
    return;
  } catch (err) {
    if (!(err instanceof NoViewPaging) || yielded) throw viewsMissing(err, `inventory/${view}`);
    o.note?.("this CouchDB ignores startkey_docid: reading _all_docs instead");
  }
  for await (const page of docPages(couchDb, { ...o, docs })) {
    const rows = page.filter((r) => {
      const parts = parseCopyId(r.id);
      return parts !== undefined && owns(by, name, parts);
    });
    if (rows.length > 0) yield rows;
  }
}

/** The copies recorded under one store or one prism, with their docs. */
export async function* copyPages(
  couchDb: Couch,
  by: Owner,
  name: string,
  o: PageOptions,
): AsyncGenerator<StoredCopy[]> {
  for await (const rows of ownRows(couchDb, by, name, o, true)) yield rows.flatMap((r) => (r.doc ? [r.doc] : []));
}

/** Like copyPages, ids only: no doc bodies are read. */
export async function* copyIdPages(couchDb: Couch, by: Owner, name: string, o: PageOptions): AsyncGenerator<CopyId[]> {
  for await (const rows of ownRows(couchDb, by, name, o, false))
    yield rows.flatMap((r) => {
      const parts = parseCopyId(r.id);
      return parts && owns(by, name, parts) ? [{ id: r.id, ...parts }] : [];
    });
}

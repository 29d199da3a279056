import { setTimeout as sleep } from "node:timers/promises";
import type { DocumentScope } from "nano";
import { type InventoryDoc, parseCopyId } from "../../core/inventory.js";
import { AppError, InventoryViewsMissing } from "../../errors.js";
import { type Couch, couch, isNotFound } from "./index.js";

// Paging through the inventory without holding it: one store's or one prism's
// copies (views inventory/byStore and byPrism), or every id (keyList/all).
// A view page starts after the last row seen (startkey_docid), so deletions
// behind the pager never shift it. On a server that ignores startkey_docid
// (the PouchDB stand-in: paging it by offset would cost the square of the
// rows), the pages come from _all_docs by id instead, filtered by the id's
// `:<prism>:<store>` part. The design docs are `oose migrate up`'s.
// PouchDB Server is known by its welcome and not probed: any view query first
// brings the view's index up to date, and on the stand-in that costs more
// than the whole paging (77 s for 100,000 docs, against 3 s for _all_docs).

export type StoredCopy = InventoryDoc & { _id: string; _rev: string };

export interface PageOptions {
  pageSize: number;
  /** Called once when a fallback is taken, to tell the operator. */
  note?: (message: string) => void;
}

type Db = DocumentScope<InventoryDoc>;

interface ViewRow {
  id: string;
  key: unknown;
  doc?: StoredCopy | null;
}

const isDesign = (id: string) => id.startsWith("_design/");

/** Runs a CouchDB call for a long tool run: an unavailable CouchDB is retried with backoff (0.5 s … 8 s). */
export async function retrying<T>(what: string, call: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await couch(what, call);
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 503 || i >= attempts) throw err;
      await sleep(Math.min(500 * 2 ** (i - 1), 8000));
    }
  }
}

/** The current docs of `ids` (deleted and missing ones are absent), in one request. */
export async function fetchCopies(couchDb: Couch, ids: string[]): Promise<Map<string, StoredCopy>> {
  const out = new Map<string, StoredCopy>();
  if (ids.length === 0) return out;
  const db = couchDb.db<InventoryDoc>("inventory");
  const res = await retrying(`fetch ${ids.length} copies`, () => db.fetch({ keys: ids }));
  for (const row of res.rows) {
    const doc = (row as { doc?: StoredCopy | null }).doc;
    if (doc) out.set(doc._id, doc);
  }
  return out;
}

export type WriteOutcome = "ok" | "conflict" | { error: string };

/** _bulk_docs: one outcome per doc, in order. */
export async function bulkWrite(couchDb: Couch, docs: object[]): Promise<WriteOutcome[]> {
  if (docs.length === 0) return [];
  const db = couchDb.db<InventoryDoc>("inventory");
  const res = await retrying(`write ${docs.length} copies`, () => db.bulk({ docs: docs as InventoryDoc[] }));
  return res.map((r) => {
    if (!r.error) return "ok";
    if (r.error === "conflict") return "conflict";
    return { error: `${r.error}${r.reason ? `: ${r.reason}` : ""}` };
  });
}

/** Thrown when a view cannot be paged by docid here: the caller reads _all_docs instead. */
class NoViewPaging extends Error {}

/** Whether a server honours startkey_docid, per connection and view (probed once it can tell). */
const docidPaging = new WeakMap<Couch, Map<string, boolean>>();

/** Whether the server introduces itself as PouchDB Server, which ignores startkey_docid. */
async function isPouchServer(couchDb: Couch): Promise<boolean> {
  try {
    const welcome = (await couchDb.server.request({ path: "" })) as Record<string, unknown> | undefined;
    return welcome?.["express-pouchdb"] !== undefined;
  } catch {
    // Unknown: the probe decides.
    return false;
  }
}

/** True or false; undefined when the key has fewer than two rows (then one page holds them all anyway). */
async function probeDocidPaging(db: Db, view: string, key: string): Promise<boolean | undefined> {
  const base = { startkey: [key], endkey: [key], include_docs: false };
  const two = (await retrying(`view ${view}`, () => db.view("inventory", view, { ...base, limit: 2 }))).rows;
  if (two.length < 2) return undefined;
  // Starting at the second row's id: a server that ignores startkey_docid answers with the first row.
  const next = await retrying(`view ${view}`, () =>
    db.view("inventory", view, { ...base, limit: 1, startkey_docid: two[1]!.id }),
  );
  return next.rows[0]?.id === two[1]!.id;
}

async function* viewPages(
  couchDb: Couch,
  view: "byStore" | "byPrism",
  key: string,
  o: PageOptions,
  docs: boolean,
): AsyncGenerator<ViewRow[]> {
  const db = couchDb.db<InventoryDoc>("inventory");
  const known = docidPaging.get(couchDb) ?? new Map<string, boolean>();
  docidPaging.set(couchDb, known);
  if (!known.has(view)) {
    const supported = (await isPouchServer(couchDb)) ? false : await probeDocidPaging(db, view, key);
    if (supported !== undefined) known.set(view, supported);
  }
  if (known.get(view) === false) throw new NoViewPaging();
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

/** Every id from _all_docs, page by page (raw collation: the next page starts at `last + "\0"`). */
export async function* idPages(
  couchDb: Couch,
  o: PageOptions & { docs?: boolean },
): AsyncGenerator<{ id: string; doc?: StoredCopy }[]> {
  const db = couchDb.db<InventoryDoc>("inventory");
  let after: string | undefined;
  for (;;) {
    const res = await retrying("list inventory", () =>
      db.list({
        limit: o.pageSize,
        include_docs: o.docs ?? false,
        ...(after === undefined ? {} : { startkey: `${after}\u0000` }),
      }),
    );
    if (res.rows.length === 0) return;
    after = res.rows.at(-1)!.id;
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
 * last key with skip=1. Falls back to _all_docs without the view.
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

export interface CopyId {
  id: string;
  hash: string;
  prism: string;
  store: string;
}

/** The current revisions of `ids` (deleted and missing ones are absent), in one request. */
export async function fetchRevs(couchDb: Couch, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (ids.length === 0) return out;
  const db = couchDb.db<InventoryDoc>("inventory");
  const res = await retrying(`revisions of ${ids.length} copies`, () => db.fetchRevs({ keys: ids }));
  for (const row of res.rows) {
    const r = row as { id?: string; value?: { rev?: string; deleted?: boolean } };
    if (r.id && r.value?.rev && !r.value.deleted) out.set(r.id, r.value.rev);
  }
  return out;
}

/**
 * The rows under one store (`by: "store"`) or one prism: from its view, or,
 * without a usable view, from _all_docs filtered by the id's `:<prism>:<store>` part.
 */
async function* ownRows(
  couchDb: Couch,
  by: "store" | "prism",
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
  for await (const page of idPages(couchDb, { ...o, docs })) {
    const rows = page.filter((r) => {
      const parts = parseCopyId(r.id);
      return parts !== undefined && owns(by, name, parts);
    });
    if (rows.length > 0) yield rows;
  }
}

const owns = (by: "store" | "prism", name: string, parts: { prism: string; store: string }) =>
  (by === "store" ? parts.store : parts.prism) === name;

/**
 * The copies recorded under one store (`by: "store"`) or one prism, with their
 * docs. Store names are unique cluster-wide, so `[store]` is the whole key.
 */
export async function* copyPages(
  couchDb: Couch,
  by: "store" | "prism",
  name: string,
  o: PageOptions,
): AsyncGenerator<StoredCopy[]> {
  for await (const rows of ownRows(couchDb, by, name, o, true)) yield rows.flatMap((r) => (r.doc ? [r.doc] : []));
}

/** Like copyPages, ids only: no doc bodies are read. */
export async function* copyIdPages(
  couchDb: Couch,
  by: "store" | "prism",
  name: string,
  o: PageOptions,
): AsyncGenerator<CopyId[]> {
  for await (const rows of ownRows(couchDb, by, name, o, false))
    yield rows.flatMap((r) => {
      const parts = parseCopyId(r.id);
      return parts && owns(by, name, parts) ? [{ id: r.id, ...parts }] : [];
    });
}

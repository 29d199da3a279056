import { setTimeout as sleep } from "node:timers/promises";
import type { DocumentScope } from "nano";
import type { InventoryDoc } from "../../core/inventory.js";
import { AppError } from "../../errors.js";
import { type Couch, couch, isNotFound } from "./index.js";

// Paging through the inventory without holding it: one store's or one prism's
// copies (views inventory/byStore and byPrism), or every id (keyList/all).
// A view page starts after the last row seen (startkey_docid); a server that
// ignores startkey_docid (the PouchDB stand-in) is noticed and paged by skip
// instead. Without the design docs (no `oose migrate up` yet) the pages come
// from _all_docs, filtered by the id's `:<prism>:<store>` part.

export type StoredCopy = InventoryDoc & { _id: string; _rev: string };

export interface PageOptions {
  pageSize: number;
  /** Called once when a fallback is taken, to tell the operator. */
  note?: (message: string) => void;
  /** Rows of pages already read that the caller has deleted since (keeps offset paging in step). */
  deleted?: () => number;
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

/** Splits `<hash>:<prism>:<store>`; undefined for ids of another shape. */
export function parseCopyId(id: string): { hash: string; prism: string; store: string } | undefined {
  const parts = id.split(":");
  if (parts.length !== 3 || parts.some((p) => p === "")) return undefined;
  return { hash: parts[0]!, prism: parts[1]!, store: parts[2]! };
}

async function* viewPages(
  db: Db,
  view: "byStore" | "byPrism",
  key: string,
  o: PageOptions,
  docs: boolean,
): AsyncGenerator<ViewRow[]> {
  const base = { startkey: [key], endkey: [key], limit: o.pageSize, include_docs: docs };
  const query = async (extra: Record<string, unknown>) =>
    (await retrying(`view ${view}`, () => db.view("inventory", view, { ...base, ...extra }))).rows as ViewRow[];
  let after: string | undefined;
  let previous = new Set<string>();
  let skipMode = false;
  let seen = 0;
  const offset = () => ({ skip: Math.max(0, seen - (o.deleted?.() ?? 0)) });
  for (;;) {
    let rows = await query(skipMode ? offset() : after === undefined ? {} : { startkey_docid: after, skip: 1 });
    if (!skipMode && after !== undefined && rows.length > 0 && previous.has(rows[0]!.id)) {
      // Rows of the last page again: startkey_docid was ignored.
      skipMode = true;
      o.note?.("this CouchDB ignores startkey_docid: paging the view by offset");
      rows = await query(offset());
    }
    if (rows.length === 0) return;
    if (!skipMode) previous = new Set(rows.map((r) => r.id));
    after = rows.at(-1)!.id;
    seen += rows.length;
    yield rows;
    if (rows.length < o.pageSize) return;
  }
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
      if (!isNotFound(err) || after !== undefined) throw err;
      o.note?.("view keyList/all is missing (run `oose migrate up`): reading _all_docs instead");
      for await (const page of idPages(couchDb, o)) yield page.map((r) => r.id);
      return;
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

/** Like copyPages, ids only: no doc bodies are read. */
export async function* copyIdPages(
  couchDb: Couch,
  by: "store" | "prism",
  name: string,
  o: PageOptions,
): AsyncGenerator<CopyId[]> {
  const db = couchDb.db<InventoryDoc>("inventory");
  const view = by === "store" ? "byStore" : "byPrism";
  const parse = (ids: string[]) =>
    ids.flatMap((id) => {
      const parts = parseCopyId(id);
      return parts && (by === "store" ? parts.store : parts.prism) === name ? [{ id, ...parts }] : [];
    });
  try {
    for await (const rows of viewPages(db, view, name, o, false)) yield parse(rows.map((r) => r.id));
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  o.note?.(`view inventory/${view} is missing (run \`oose migrate up\`): reading _all_docs instead`);
  for await (const page of idPages(couchDb, o)) {
    const mine = parse(page.map((r) => r.id));
    if (mine.length > 0) yield mine;
  }
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
 * The copies recorded under one store (`by: "store"`) or one prism, with their
 * docs. Store names are unique cluster-wide, so `[store]` is the whole key.
 */
export async function* copyPages(
  couchDb: Couch,
  by: "store" | "prism",
  name: string,
  o: PageOptions,
): AsyncGenerator<StoredCopy[]> {
  const db = couchDb.db<InventoryDoc>("inventory");
  const view = by === "store" ? "byStore" : "byPrism";
  try {
    for await (const rows of viewPages(db, view, name, o, true)) {
      yield rows.flatMap((r) => (r.doc ? [r.doc] : []));
    }
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  o.note?.(`view inventory/${view} is missing (run \`oose migrate up\`): reading _all_docs instead`);
  const mine = (id: string) => {
    const parts = parseCopyId(id);
    return parts !== undefined && (by === "store" ? parts.store : parts.prism) === name;
  };
  for await (const page of idPages(couchDb, { ...o, docs: true })) {
    const docs = page.flatMap((r) => (mine(r.id) && r.doc ? [r.doc] : []));
    if (docs.length > 0) yield docs;
  }
}

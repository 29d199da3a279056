import type { DocumentScope } from "nano";
import type { Couch } from "./index.js";
import { retrying } from "./retry.js";

// Whether a server pages views by docid (startkey_docid). PouchDB Server, the
// stand-in, ignores it: it is known by its welcome and not probed, since any
// view query first brings the view's index up to date, and on the stand-in
// that costs more than the whole paging (77 s for 100,000 docs, against 3 s
// for _all_docs). Other servers are probed once per connection and view.

// biome-ignore lint/suspicious/noExplicitAny: a probe reads ids only
type Db = DocumentScope<any>;

const known = new WeakMap<Couch, Map<string, boolean>>();

/** Whether the server introduces itself as PouchDB Server. */
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
async function probe(db: Db, ddoc: string, view: string, key: string): Promise<boolean | undefined> {
  const base = { startkey: [key], endkey: [key], include_docs: false };
  const two = (await retrying(`view ${view}`, () => db.view(ddoc, view, { ...base, limit: 2 }))).rows;
  if (two.length < 2) return undefined;
  // Starting at the second row's id: a server that ignores startkey_docid answers with the first row.
  const next = await retrying(`view ${view}`, () =>
    db.view(ddoc, view, { ...base, limit: 1, startkey_docid: two[1]!.id }),
  );
  return next.rows[0]?.id === two[1]!.id;
}

/** Whether `view` (keyed `[key]`) can be paged by docid here; undefined while it cannot tell yet. */
export async function pagesByDocid(
  couchDb: Couch,
  db: Db,
  ddoc: string,
  view: string,
  key: string,
): Promise<boolean | undefined> {
  const views = known.get(couchDb) ?? new Map<string, boolean>();
  known.set(couchDb, views);
  if (!views.has(view)) {
    const supported = (await isPouchServer(couchDb)) ? false : await probe(db, ddoc, view, key);
    if (supported !== undefined) views.set(view, supported);
  }
  return views.get(view);
}

import { isDeepStrictEqual } from "node:util";
import { isNotFound } from "../../app/adapters/couch/index.js";
import { type AnyDoc, buildViews, type Db, retry } from "./couch.js";
import type { MigrationContext } from "./types.js";

// Design docs, updated the couchmigrate way so a view is never served cold:
// 1. unchanged (same views and language) → nothing to do;
// 2. write the new definition as `_design/<name>_new` and query each view once,
//    which builds the index (retried until it is ready);
// 3. write the same definition to `_design/<name>`: CouchDB keys indexes by the
//    definition's signature, so the built index is reused at once;
// 4. delete `_design/<name>_new`.

export interface DesignDoc {
  _id: string;
  language?: string;
  views: Record<string, { map: string; reduce?: string }>;
}

const definition = (d: AnyDoc | DesignDoc | undefined) =>
  d ? { language: d.language ?? "javascript", views: d.views ?? {} } : undefined;

async function getDoc(db: Db, id: string): Promise<AnyDoc | undefined> {
  try {
    return await retry(`get ${id}`, () => db.get(id));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function put(db: Db, id: string, body: AnyDoc): Promise<void> {
  const cur = await getDoc(db, id);
  await retry(`put ${id}`, () => db.insert({ ...body, _id: id, ...(cur ? { _rev: cur._rev } : {}) }));
}

/** "created" / "updated" / "unchanged"; in a dry run nothing is written. */
export async function syncDesignDoc(
  ctx: MigrationContext,
  db: Db,
  ddoc: DesignDoc,
): Promise<"created" | "updated" | "unchanged"> {
  // A missing database answers 404 too: no current doc.
  const current = await getDoc(db, ddoc._id);
  const wanted = definition(ddoc)!;
  if (current && isDeepStrictEqual(definition(current), wanted)) return "unchanged";
  const outcome = current ? "updated" : "created";
  if (ctx.dryRun) return outcome;
  const staging = `${ddoc._id}_new`;
  await put(db, staging, wanted);
  await buildViews(ctx, db, staging, Object.keys(wanted.views));
  await put(db, ddoc._id, wanted);
  // The swapped-in doc shares the staging doc's index; one query makes sure it answers.
  await buildViews(ctx, db, ddoc._id, Object.keys(wanted.views));
  const stale = await getDoc(db, staging);
  if (stale) await retry(`delete ${staging}`, () => db.destroy(staging, stale._rev));
  return outcome;
}

/** Removes a design doc (for `down`). */
export async function removeDesignDoc(db: Db, id: string): Promise<boolean> {
  const cur = await getDoc(db, id);
  if (!cur) return false;
  await retry(`delete ${id}`, () => db.destroy(id, cur._rev));
  return true;
}

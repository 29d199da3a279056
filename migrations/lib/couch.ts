import { setTimeout as sleep } from "node:timers/promises";
import type { DocumentScope } from "nano";
import { bulkWrite as bulk, fetchRevs } from "../../app/adapters/couch/bulk.js";
import type { Couch } from "../../app/adapters/couch/index.js";
import { isNotFound } from "../../app/adapters/couch/index.js";
import { withRetries } from "../../app/adapters/couch/retry.js";
import type { WriteOutcome } from "../../app/core/ports/inventory.js";
import type { MigrationContext } from "./types.js";

// CouchDB building blocks for migrations, limited to what both CouchDB and the
// stand-in support: _all_docs ranges, POST _all_docs keys, _bulk_docs, views.
// The app's CouchDB toolkit does the work; here its calls see nano's raw
// errors (a missing database is a 404 to a migration, not an outage).

// biome-ignore lint/suspicious/noExplicitAny: legacy documents have no schema
export type AnyDoc = Record<string, any>;
export type Db = DocumentScope<AnyDoc>;

const status = (err: unknown) => (err as { statusCode?: number })?.statusCode;

/** Network errors and 5xx are worth retrying; 4xx answers are not. */
export const isTransient = (err: unknown) => {
  const s = status(err);
  return s === undefined || s >= 500;
};

/** Runs a CouchDB call, retrying transient failures with backoff (0.5 s … 8 s). */
export async function retry<T>(what: string, call: () => Promise<T>, attempts = 6): Promise<T> {
  try {
    return await withRetries(call, isTransient, attempts);
  } catch (err) {
    const msg = (err as Error).message || String(err);
    throw Object.assign(new Error(`${what}: ${msg}`, { cause: err }), { statusCode: status(err) });
  }
}

export async function dbExists(couch: Couch, name: string): Promise<boolean> {
  try {
    await retry(`db info ${name}`, () => couch.server.db.get(name));
    return true;
  } catch (err) {
    if (status(err) === 404) return false;
    throw err;
  }
}

export async function docCount(couch: Couch, name: string): Promise<number> {
  try {
    return (await retry(`db info ${name}`, () => couch.server.db.get(name))).doc_count;
  } catch (err) {
    if (status(err) === 404) return 0;
    throw err;
  }
}

/** Creates a database; false when it already existed. */
export async function createDb(couch: Couch, name: string): Promise<boolean> {
  try {
    await retry(`create ${name}`, () => couch.server.db.create(name));
    return true;
  } catch (err) {
    if (status(err) === 412) return false;
    throw err;
  }
}

/** Which of `ids` exist (deleted docs don't); a missing database holds none. */
export async function existingIds(db: Db, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  if (ids.length === 0) return found;
  try {
    for (const id of (await fetchRevs(db, ids, retry)).keys()) found.add(id);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return found;
}

/** True when the id range holds at least one doc. */
export async function rangeHasDocs(db: Db, start: string, end: string): Promise<boolean> {
  try {
    const res = await retry("probe range", () => db.list({ startkey: start, endkey: end, limit: 1 }));
    return res.rows.length > 0;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export interface Row {
  id: string;
  doc?: AnyDoc;
}

/**
 * Reads an id range page by page: `limit` rows per request, the next page
 * starting right after the last id seen (raw collation, so `id + "\0"` is the
 * next possible id; this stays correct when the page's docs were deleted).
 */
export async function readPage(
  db: Db,
  o: { after?: string; start: string; end: string; limit: number; docs: boolean },
) {
  const startkey = o.after === undefined ? o.start : `${o.after}\u0000`;
  const res = await retry("read page", () =>
    db.list({ startkey, endkey: o.end, limit: o.limit, include_docs: o.docs }),
  );
  return res.rows.map((r) => ({ id: r.id, doc: r.doc as AnyDoc | undefined }));
}

/** _bulk_docs; one outcome per doc, in order. */
export const bulkWrite = (db: Db, docs: AnyDoc[]): Promise<WriteOutcome[]> => bulk(db, docs, retry);

/**
 * Queries every view of a design doc once (limit 0) so CouchDB indexes it now.
 * A large index outlasts one request's timeout: CouchDB keeps building, so the
 * query is repeated until it answers or `timeoutMs` passes.
 */
export async function buildViews(ctx: MigrationContext, db: Db, ddocId: string, views: string[]): Promise<void> {
  const name = ddocId.replace(/^_design\//, "");
  const deadline = Date.now() + ctx.settings.viewBuildTimeoutMs;
  for (const view of views) {
    for (let attempt = 1; ; attempt++) {
      ctx.signal.throwIfAborted();
      try {
        await db.view(name, view, { limit: 0 });
        break;
      } catch (err) {
        if (!isTransient(err) || Date.now() > deadline) {
          throw new Error(`building view ${ddocId}/${view}: ${(err as Error).message}`, { cause: err });
        }
        ctx.log.info({ view: `${ddocId}/${view}`, attempt }, "view still building");
        await sleep(Math.min(1000 * attempt, 10_000));
      }
    }
  }
}

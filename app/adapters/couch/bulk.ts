import type { DocumentScope } from "nano";
import type { WriteOutcome } from "../../core/ports/inventory.js";
import { retrying, type Run } from "./retry.js";

// Requests on many docs at once, for any database: `_bulk_docs` with an
// outcome per doc, and `_all_docs` by keys for current docs or revisions.

// biome-ignore lint/suspicious/noExplicitAny: the toolkit serves every database's docs
type Db = DocumentScope<any>;

/** _bulk_docs: one outcome per doc, in order. */
export async function bulkWrite(db: Db, docs: object[], run: Run = retrying, noun = "docs"): Promise<WriteOutcome[]> {
  if (docs.length === 0) return [];
  const res = await run(`write ${docs.length} ${noun}`, () => db.bulk({ docs }));
  return res.map((r) => {
    const row = r as { error?: string; reason?: string };
    if (!row.error) return "ok";
    if (row.error === "conflict") return "conflict";
    return { error: `${row.error}${row.reason ? `: ${row.reason}` : ""}` };
  });
}

/** The current docs of `ids` (deleted and missing ones are absent), in one request. */
export async function fetchDocs<D>(
  db: Db,
  ids: string[],
  run: Run = retrying,
  noun = "docs",
): Promise<Map<string, D & { _id: string; _rev: string }>> {
  const out = new Map<string, D & { _id: string; _rev: string }>();
  if (ids.length === 0) return out;
  const res = await run(`fetch ${ids.length} ${noun}`, () => db.fetch({ keys: ids }));
  for (const row of res.rows) {
    const doc = (row as { doc?: (D & { _id: string; _rev: string }) | null }).doc;
    if (doc) out.set(doc._id, doc);
  }
  return out;
}

/** The current revisions of `ids` (deleted and missing ones are absent), in one request. */
export async function fetchRevs(
  db: Db,
  ids: string[],
  run: Run = retrying,
  noun = "docs",
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (ids.length === 0) return out;
  const res = await run(`revisions of ${ids.length} ${noun}`, () => db.fetchRevs({ keys: ids }));
  for (const row of res.rows) {
    const r = row as { id?: string; value?: { rev?: string; deleted?: boolean } };
    if (r.id && r.value?.rev && !r.value.deleted) out.set(r.id, r.value.rev);
  }
  return out;
}

import { type AnyDoc, bulkWrite, type Db, existingIds, type Row, readPage } from "./couch.js";
import type { MigrationContext } from "./types.js";

// The batch engine: each pass walks one id range page by page (bounded memory),
// hands the page to a handler, then checkpoints (pass, last id, rows scanned)
// together with the counts. A resumed run starts right after the last
// checkpointed id; the page in flight when a run died is simply done again,
// which the handlers make harmless (existing targets count as "exists").

export interface Pass {
  /** Stable name: checkpoints refer to it. */
  name: string;
  db: Db;
  start: string;
  end: string;
  /** include_docs (default true). */
  docs?: boolean;
  handle(rows: Row[]): Promise<void>;
}

interface PassCheckpoint {
  pass: string;
  after?: string;
  scanned: number;
}

export const prefixRange = (prefix: string) => ({ start: prefix, end: `${prefix}\ufff0` });

export async function runPasses(ctx: MigrationContext, passes: Pass[], o: { label: string; total?: number }) {
  const cp = ctx.checkpoint.get<PassCheckpoint>();
  let first = 0;
  let after: string | undefined;
  let scanned = 0;
  if (cp && typeof cp === "object" && "pass" in cp) {
    const i = passes.findIndex((p) => p.name === cp.pass);
    if (i >= 0) {
      first = i;
      after = cp.after;
      scanned = cp.scanned;
      ctx.progress.note(
        `${ctx.id}: resuming at ${cp.pass}${cp.after ? ` after ${cp.after}` : ""} (${scanned} rows done)`,
      );
    }
  }
  ctx.progress.begin(o.label, o.total, scanned);
  const limit = ctx.settings.batchSize;
  for (let i = first; i < passes.length; i++) {
    const pass = passes[i]!;
    if (i > first) after = undefined;
    const read = (from?: string) =>
      readPage(pass.db, { after: from, start: pass.start, end: pass.end, limit, docs: pass.docs ?? true });
    let page = await read(after);
    while (page.length > 0) {
      ctx.signal.throwIfAborted();
      const last = page.at(-1)!.id;
      // Read the next page while this one is written.
      const next = page.length < limit ? Promise.resolve([]) : read(last);
      next.catch(() => undefined);
      await pass.handle(page);
      scanned += page.length;
      after = last;
      await ctx.checkpoint.set<PassCheckpoint>({ pass: pass.name, after, scanned });
      ctx.progress.update(scanned, ctx.counts);
      page = await next;
    }
    if (i + 1 < passes.length) await ctx.checkpoint.set<PassCheckpoint>({ pass: passes[i + 1]!.name, scanned });
  }
  ctx.progress.end(ctx.counts);
}

export type Transformed = { id: string; doc: AnyDoc } | { skip: string };

/**
 * Copies each row to `target` under its new id unless that id already exists
 * (counted "exists": re-runs and resumed runs never overwrite). With
 * `moveInPlace` (source and target are the same database) the old doc is deleted
 * once its new one is confirmed, so a crash in between only leaves the old doc
 * for the next run to delete.
 */
export function copyHandler(
  ctx: MigrationContext,
  o: { target: Db; source?: Db; transform(row: Row): Transformed; moveInPlace?: boolean },
) {
  return async (rows: Row[]) => {
    const items: { from: Row; id: string; doc: AnyDoc }[] = [];
    const doubles: { from: Row; id: string }[] = [];
    const ids = new Set<string>();
    for (const row of rows) {
      if (!row.doc) continue;
      const t = o.transform(row);
      if ("skip" in t) {
        ctx.skip(row.id, t.skip);
        continue;
      }
      // Two legacy docs naming the same copy: the first wins, the second exists.
      if (ids.has(t.id)) {
        ctx.counts.exists++;
        doubles.push({ from: row, id: t.id });
        continue;
      }
      ids.add(t.id);
      items.push({ from: row, id: t.id, doc: t.doc });
    }
    const existing = await existingIds(o.target, [...ids]);
    const fresh = items.filter((it) => !existing.has(it.id));
    ctx.counts.exists += existing.size;
    const confirmed = new Set(existing);
    if (ctx.dryRun) {
      ctx.counts.moved += fresh.length;
    } else {
      const outcomes = await bulkWrite(
        o.target,
        fresh.map((it) => ({ ...it.doc, _id: it.id })),
      );
      outcomes.forEach((out, i) => {
        const id = fresh[i]!.id;
        if (typeof out === "object") {
          ctx.fail(id, out.error);
          return;
        }
        ctx.counts[out === "ok" ? "moved" : "exists"]++;
        confirmed.add(id);
      });
    }
    if (o.moveInPlace && !ctx.dryRun) {
      const source = o.source ?? o.target;
      const gone = [...items, ...doubles].filter((it) => confirmed.has(it.id)).map((it) => it.from);
      const outcomes = await bulkWrite(
        source,
        gone.map((row) => ({ _id: row.id, _rev: row.doc!._rev, _deleted: true })),
      );
      outcomes.forEach((out, i) => {
        if (typeof out === "object") ctx.fail(gone[i]!.id, `delete old key: ${out.error}`);
      });
    }
  };
}

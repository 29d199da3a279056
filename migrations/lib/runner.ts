import {
  type Counts,
  ensureMeta,
  listRecords,
  type MigrationRecord,
  metaExists,
  RecordStore,
  zeroCounts,
} from "../../app/adapters/couch/meta.js";
import { type LockHolder, LockHeld, MigrationLock, readLock } from "../../app/adapters/couch/migration-lock.js";
import { type ContextDeps, loadMigrations, makeContext, newRecord } from "./context.js";
import type { LoadedMigration } from "./types.js";

// Applies pending migrations in order under the lock, recording each in the
// meta database. The first failure stops the run: its record stays unfinished
// (status failed, checkpoint kept) and the next run resumes it.

export interface RunOptions extends Omit<ContextDeps, "signal" | "hold"> {
  /** Apply (or, for down, keep) migrations up to this number. */
  to?: number;
  leaseMs: number;
  /** Recorded in the lock so a refused runner can name the holder. */
  command: string;
  dir?: string;
  migrations?: LoadedMigration[];
}

export interface MigrationResult {
  id: string;
  outcome: "applied" | "would apply" | "reverted" | "would revert" | "failed" | "stopped";
  counts: Counts;
  durationMs: number;
  resumed: boolean;
  notes: string[];
  error?: string;
}

export interface RunReport {
  ok: boolean;
  results: MigrationResult[];
  /** A failure outside any one migration (lock refused, CouchDB unreachable). */
  error?: string;
  /** Set when another runner holds the lock. */
  refusedBy?: LockHolder;
  alreadyApplied: string[];
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

interface Held {
  signal: AbortSignal;
  hold(): Promise<void>;
}

async function withLock<T>(o: RunOptions, work: (held: Held) => Promise<T>): Promise<T> {
  if (o.dryRun) return work({ signal: new AbortController().signal, hold: async () => undefined });
  await ensureMeta(o.couch);
  const lock = await MigrationLock.acquire(o.couch, { leaseMs: o.leaseMs, command: o.command });
  if (lock.tookOver) {
    const t = lock.tookOver;
    o.log.warn(
      { pid: t.pid, host: t.host, startedAt: t.startedAt },
      "took over the lock of a runner whose lease ran out",
    );
  }
  try {
    return await work({ signal: lock.signal, hold: () => lock.hold() });
  } finally {
    await lock.release().catch((err) => o.log.warn({ err: errText(err) }, "could not release the migration lock"));
  }
}

async function execute(
  o: RunOptions,
  m: LoadedMigration,
  record: MigrationRecord,
  direction: "up" | "down",
  held: Held,
): Promise<MigrationResult> {
  const signal = held.signal;
  const store = new RecordStore(o.couch, !o.dryRun);
  const resumed = record.runs > 0 && direction === "up";
  record.status = "running";
  record.runs++;
  record.checksum = m.checksum;
  record.pid = process.pid;
  delete record.error;
  await store.save(record);
  const state = makeContext({ ...o, signal, hold: held.hold }, m, record, store);
  const started = Date.now();
  const base = { id: m.id, resumed, notes: state.notes };
  try {
    const step = direction === "up" ? m.up : m.down!;
    await step.call(m, state.ctx);
    if (state.ctx.counts.errors > 0) {
      throw new Error(`${state.ctx.counts.errors} record(s) could not be migrated: ${state.failures.join("; ")}`);
    }
  } catch (err) {
    await state.close();
    const lost = signal.aborted;
    const error = lost ? errText(signal.reason) : errText(err);
    if (!lost) {
      record.status = "failed";
      record.error = error;
      record.counts = state.ctx.counts;
      await store.save(record).catch((e) => o.log.error({ err: errText(e) }, "could not record the failure"));
    }
    return {
      ...base,
      outcome: lost ? "stopped" : "failed",
      counts: state.ctx.counts,
      durationMs: Date.now() - started,
      error,
    };
  }
  await state.close();
  if (direction === "down") {
    await store.remove(m.id);
  } else {
    record.status = "done";
    record.finishedAt = new Date().toISOString();
    record.counts = state.ctx.counts;
    delete record.checkpoint;
    await store.save(record);
  }
  const outcome = direction === "up" ? (o.dryRun ? "would apply" : "applied") : o.dryRun ? "would revert" : "reverted";
  return { ...base, outcome, counts: state.ctx.counts, durationMs: Date.now() - started };
}

interface Step {
  m: LoadedMigration;
  record: MigrationRecord;
}

/** Runs the steps `plan` picks (under the lock, from the records as they are then), stopping at the first failure. */
async function run(
  o: RunOptions,
  direction: "up" | "down",
  plan: (all: LoadedMigration[], records: Map<string, MigrationRecord>, report: RunReport) => Step[],
): Promise<RunReport> {
  const report: RunReport = { ok: true, results: [], alreadyApplied: [] };
  try {
    const all = o.migrations ?? (await loadMigrations(o.dir));
    await withLock(o, async (held) => {
      for (const { m, record } of plan(all, await listRecords(o.couch), report)) {
        const result = await execute(o, m, record, direction, held);
        report.results.push(result);
        if (result.error) {
          report.ok = false;
          break;
        }
      }
    });
  } catch (err) {
    report.ok = false;
    report.error = errText(err);
    if (err instanceof LockHeld) report.refusedBy = err.holder;
  }
  return report;
}

export function migrateUp(o: RunOptions): Promise<RunReport> {
  return run(o, "up", (all, records, report) => {
    const steps: Step[] = [];
    for (const m of all) {
      if (o.to !== undefined && m.number > o.to) break;
      const rec = records.get(m.id);
      if (rec?.status === "done") {
        report.alreadyApplied.push(m.id);
        if (rec.checksum !== m.checksum) o.log.warn({ migration: m.id }, "applied migration changed since it ran");
        continue;
      }
      const record = rec ? structuredClone(rec) : newRecord(m);
      if (!rec) record.counts = zeroCounts();
      steps.push({ m, record });
    }
    return steps;
  });
}

export function migrateDown(o: RunOptions): Promise<RunReport> {
  return run(o, "down", (all, records) => {
    const applied = all.filter((m) => records.has(m.id)).reverse();
    const targets = o.to === undefined ? applied.slice(0, 1) : applied.filter((m) => m.number > o.to!);
    for (const m of targets) {
      if (!m.down) throw new Error(`${m.id} cannot be reverted (it has no down step)`);
    }
    return targets.map((m) => ({ m, record: { ...structuredClone(records.get(m.id)!), counts: zeroCounts() } }));
  });
}

export interface StatusRow {
  id: string;
  description: string;
  state: "pending" | "running" | "failed" | "done";
  changed: boolean;
  record?: MigrationRecord;
}

export async function migrationStatus(o: Pick<RunOptions, "couch" | "dir" | "migrations">): Promise<{
  rows: StatusRow[];
  lock?: LockHolder;
  metaMissing: boolean;
}> {
  const all = o.migrations ?? (await loadMigrations(o.dir));
  const metaMissing = !(await metaExists(o.couch));
  const records = await listRecords(o.couch);
  const rows = all.map((m): StatusRow => {
    const record = records.get(m.id);
    return {
      id: m.id,
      description: m.description,
      state: record?.status ?? "pending",
      changed: record !== undefined && record.checksum !== m.checksum,
      record,
    };
  });
  return { rows, lock: metaMissing ? undefined : await readLock(o.couch), metaMissing };
}

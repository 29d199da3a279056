import os from "node:os";
import type { DocumentScope } from "nano";
import { type Couch, isConflict, isNotFound } from "./index.js";

// The `<database>-meta` database: one record per migration (`migration:<id>`)
// with its checksum, times, counts and resume checkpoint, and the runner lock
// (`lock:migrate`), a lease the holder renews. A killed runner's lease runs out
// and the next runner may take it over.

export interface Counts {
  moved: number;
  exists: number;
  skipped: number;
  dropped: number;
  errors: number;
}

export const zeroCounts = (): Counts => ({ moved: 0, exists: 0, skipped: 0, dropped: 0, errors: 0 });

export type MigrationStatus = "running" | "done" | "failed";

export interface MigrationRecord {
  _id: string;
  _rev?: string;
  type: "migration";
  id: string;
  checksum: string;
  status: MigrationStatus;
  startedAt: string;
  finishedAt?: string;
  updatedAt: string;
  counts: Counts;
  /** Where an interrupted run continues; cleared when the migration finishes. */
  checkpoint?: unknown;
  error?: string;
  /** How many times a run started (resumes included). */
  runs: number;
  host: string;
  pid: number;
}

export const recordId = (id: string) => `migration:${id}`;
export const LOCK_ID = "lock:migrate";

type MetaDoc = Record<string, unknown>;
const meta = (couch: Couch) => couch.db<MetaDoc>("meta");

export async function metaExists(couch: Couch): Promise<boolean> {
  try {
    await couch.server.db.get(couch.name("meta"));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export async function ensureMeta(couch: Couch): Promise<void> {
  try {
    await couch.server.db.create(couch.name("meta"));
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 412) throw err;
  }
}

/** Every migration record, by migration id. An absent meta database means none. */
export async function listRecords(couch: Couch): Promise<Map<string, MigrationRecord>> {
  const out = new Map<string, MigrationRecord>();
  try {
    const res = await meta(couch).list({ startkey: "migration:", endkey: "migration:\ufff0", include_docs: true });
    for (const row of res.rows) if (row.doc) out.set(String(row.doc.id), row.doc as unknown as MigrationRecord);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return out;
}

/** Saves one record, keeping its revision; `persist: false` (dry runs) keeps it in memory only. */
export class RecordStore {
  constructor(
    private readonly couch: Couch,
    private readonly persist: boolean,
  ) {}

  async save(record: MigrationRecord): Promise<void> {
    record.updatedAt = new Date().toISOString();
    if (!this.persist) return;
    const db = meta(this.couch) as unknown as DocumentScope<MigrationRecord>;
    try {
      record._rev = (await db.insert(record)).rev;
    } catch (err) {
      if (!isConflict(err)) throw err;
      // Someone touched it (an operator); take the current revision and write ours.
      record._rev = (await db.get(record._id))._rev;
      record._rev = (await db.insert(record)).rev;
    }
  }

  async remove(id: string): Promise<void> {
    if (!this.persist) return;
    try {
      const cur = await meta(this.couch).get(recordId(id));
      await meta(this.couch).destroy(cur._id, cur._rev);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

export interface LockHolder {
  owner: string;
  pid: number;
  host: string;
  command: string;
  startedAt: string;
  renewedAt: string;
  expiresAt: number;
}

export class LockHeld extends Error {
  constructor(readonly holder: LockHolder) {
    super(
      `another migration runner holds the lock: pid ${holder.pid} on ${holder.host} (${holder.command}), ` +
        `started ${holder.startedAt}, lease until ${new Date(holder.expiresAt).toISOString()}`,
    );
  }
}

export async function readLock(couch: Couch): Promise<LockHolder | undefined> {
  try {
    return (await meta(couch).get(LOCK_ID)) as unknown as LockHolder;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * The runner lock: a conflict-checked insert, renewed every leaseMs/3. `signal`
 * aborts when the lease is lost (taken over, or not renewable before it ran out),
 * so the holder stops before it could overlap with a new holder.
 */
export class MigrationLock {
  private rev?: string;
  private timer?: NodeJS.Timeout;
  private renewing = false;
  private readonly abort = new AbortController();
  private holder: LockHolder;

  private constructor(
    private readonly couch: Couch,
    private readonly leaseMs: number,
    command: string,
  ) {
    const now = new Date();
    this.holder = {
      owner: `${os.hostname()}:${process.pid}:${now.getTime()}:${Math.random().toString(36).slice(2)}`,
      pid: process.pid,
      host: os.hostname(),
      command,
      startedAt: now.toISOString(),
      renewedAt: now.toISOString(),
      expiresAt: now.getTime() + leaseMs,
    };
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Takes the lock or throws LockHeld; a holder whose lease ran out is replaced. */
  static async acquire(couch: Couch, o: { leaseMs: number; command: string }): Promise<MigrationLock> {
    const lock = new MigrationLock(couch, o.leaseMs, o.command);
    await lock.take();
    lock.timer = setInterval(() => void lock.renew(), Math.max(50, Math.floor(o.leaseMs / 3)));
    lock.timer.unref();
    return lock;
  }

  private async take(): Promise<void> {
    const db = meta(this.couch);
    const doc = { _id: LOCK_ID, type: "lock", ...this.holder };
    try {
      this.rev = (await db.insert(doc)).rev;
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const cur = (await db.get(LOCK_ID)) as unknown as LockHolder & { _rev: string };
    if (cur.expiresAt > Date.now()) throw new LockHeld(cur);
    try {
      this.rev = (await db.insert({ ...doc, _rev: cur._rev, tookOverFrom: { pid: cur.pid, host: cur.host } })).rev;
    } catch (err) {
      if (!isConflict(err)) throw err;
      throw new LockHeld((await readLock(this.couch)) ?? cur);
    }
  }

  private async renew(): Promise<void> {
    if (this.abort.signal.aborted || this.renewing) return;
    this.renewing = true;
    const now = Date.now();
    const next = { ...this.holder, renewedAt: new Date(now).toISOString(), expiresAt: now + this.leaseMs };
    try {
      this.rev = (await meta(this.couch).insert({ _id: LOCK_ID, _rev: this.rev, type: "lock", ...next })).rev;
      this.holder = next;
    } catch (err) {
      if (isConflict(err) || isNotFound(err) || Date.now() >= this.holder.expiresAt) {
        this.lose(new Error(`migration lock lost (${(err as Error).message}); stopping`));
      }
      // Otherwise a transient error: the next tick retries while the lease still holds.
    } finally {
      this.renewing = false;
    }
  }

  private lose(err: Error): void {
    clearInterval(this.timer);
    this.abort.abort(err);
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    if (this.abort.signal.aborted || !this.rev) return;
    this.abort.abort(new Error("lock released"));
    try {
      await meta(this.couch).destroy(LOCK_ID, this.rev);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}

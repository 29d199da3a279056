import type { DocumentScope } from "nano";
import { type Couch, isConflict, isNotFound } from "./index.js";

// The `<database>-meta` database: one record per migration (`migration:<id>`)
// with its checksum, times, counts and resume checkpoint. The runner lock
// (`lock:migrate`) lives there too (migration-lock.ts).

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

type MetaDoc = Record<string, unknown>;
export const meta = (couch: Couch) => couch.db<MetaDoc>("meta");

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

import type { Redis } from "ioredis";
import type { Couch } from "../../app/adapters/couch/index.js";
import type { Counts } from "../../app/adapters/couch/meta.js";
import type { Logger } from "../../app/log.js";

export type { Counts };

/** Reports a migration's progress: a bar on a TTY, summary lines otherwise, nothing in tests. */
export interface Progress {
  /** A new phase; total undefined when unknown. `done` > 0 when resuming. */
  begin(label: string, total?: number, done?: number): void;
  /** Absolute position within the phase and the migration's counts so far. */
  update(done: number, counts: Counts): void;
  end(counts: Counts): void;
  /** One informational line. */
  note(message: string): void;
}

export const silentProgress: Progress = { begin() {}, update() {}, end() {}, note() {} };

export interface MigrationSettings {
  /** couchdb.database: the base name of every OOSE database. */
  database: string;
  /** The CouchDB user the nodes use; made a member of new databases' _security. */
  couchUser?: string;
  /** redis.prefix: `<prefix>:purchase:<token>`. */
  redisPrefix: string;
  /** purchase.afterlife (ms). */
  afterlife: number;
  /** Docs or keys per batch (one _all_docs page, one _bulk_docs). */
  batchSize: number;
  /** Query the inventory views after a bulk import so no node meets a cold index. */
  warmViews: boolean;
  /** How long a view build may take before the migration gives up (ms). */
  viewBuildTimeoutMs: number;
}

export interface Checkpoint {
  get<T>(): T | undefined;
  /** Stores the resume point together with the counts so far (one write). */
  set<T>(value: T): Promise<void>;
}

export interface MigrationContext {
  id: string;
  couch: Couch;
  /** Opened on first use; throws naming the missing setting when Redis is not configured. */
  redis(): Promise<Redis>;
  settings: MigrationSettings;
  log: Logger;
  progress: Progress;
  /** Nothing is written; counts say what a real run would do. */
  dryRun: boolean;
  /** Mutable; saved with every checkpoint and in the final record. */
  counts: Counts;
  checkpoint: Checkpoint;
  /** Aborted when the runner loses its lock; long loops check it between batches. */
  signal: AbortSignal;
  /** When this migration first started (stable across resumes). */
  startedAt: string;
  now(): number;
  /** Remembers a line for the final summary (and logs it). */
  note(message: string): void;
  /** Counts a source record left alone (malformed, transient, or not ours) and logs the first few. */
  skip(id: string, reason: string): void;
  /** Counts a record that could not be written; any failure fails the migration after it finishes its pass. */
  fail(id: string, reason: string): void;
}

export interface Migration {
  description: string;
  up(ctx: MigrationContext): Promise<void>;
  /** Optional: undo. Migrations without it refuse `migrate down`. */
  down?(ctx: MigrationContext): Promise<void>;
}

export interface LoadedMigration extends Migration {
  /** File name without extension, e.g. `0002-legacy-2.0-split`. */
  id: string;
  number: number;
  file: string;
  checksum: string;
}

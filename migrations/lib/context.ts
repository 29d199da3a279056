import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Redis } from "ioredis";
import type { Couch } from "../../app/adapters/couch/index.js";
import { type MigrationRecord, type RecordStore, recordId, zeroCounts } from "../../app/adapters/couch/meta.js";
import type { Logger } from "../../app/log.js";
import type { LoadedMigration, Migration, MigrationContext, MigrationSettings, Progress } from "./types.js";

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** A migration's file: TypeScript in this checkout; plain JS also loads where no TypeScript loader runs (a build). */
const FILE = /^(\d{4})-([a-z0-9][a-z0-9.-]*)\.(?:ts|js)$/;
/** Written by the build beside the compiled migrations: each one's id and the checksum of its source. */
const COMPILED = "checksums.json";

/** The migrations in `dir` (sources, or a build's output), in order; each file's default export is a Migration. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<LoadedMigration[]> {
  const compiled = path.join(dir, COMPILED);
  // A build lists its migrations with their sources' checksums, so a run from either names them alike.
  const sources: Array<{ id: string; full: string; checksum?: string }> = existsSync(compiled)
    ? Object.entries(JSON.parse(readFileSync(compiled, "utf8")) as Record<string, string>).map(([id, checksum]) => ({
        id,
        full: path.join(dir, `${id}.js`),
        checksum,
      }))
    : readdirSync(dir)
        .filter((f) => FILE.test(f))
        .map((f) => ({ id: f.replace(/\.(?:ts|js)$/, ""), full: path.join(dir, f) }));
  const out: LoadedMigration[] = [];
  for (const { id, full, checksum } of sources.sort((a, b) => a.id.localeCompare(b.id))) {
    const file = path.basename(full);
    const mod = (await import(pathToFileURL(full).href)) as { default?: Migration };
    const m = mod.default;
    if (!m || typeof m.up !== "function") throw new Error(`${file}: the default export must be a migration with up()`);
    const number = Number(FILE.exec(`${id}.js`)![1]);
    if (out.some((o) => o.number === number)) throw new Error(`${file}: two migrations share number ${number}`);
    const sum = checksum ?? createHash("sha256").update(readFileSync(full)).digest("hex");
    out.push({ ...m, id, number, file: full, checksum: sum });
  }
  return out;
}

export function newRecord(m: LoadedMigration): MigrationRecord {
  const now = new Date().toISOString();
  return {
    _id: recordId(m.id),
    type: "migration",
    id: m.id,
    checksum: m.checksum,
    status: "running",
    startedAt: now,
    updatedAt: now,
    counts: zeroCounts(),
    runs: 0,
    host: os.hostname(),
    pid: process.pid,
  };
}

export interface ContextDeps {
  couch: Couch;
  redis?: () => Redis;
  settings: MigrationSettings;
  log: Logger;
  progress: Progress;
  dryRun: boolean;
  signal: AbortSignal;
  /** Called before each checkpoint: returns once the runner's lock lease is safe, throws if it is lost. */
  hold(): Promise<void>;
}

export interface RunState {
  ctx: MigrationContext;
  notes: string[];
  failures: string[];
  /** Closes what the context opened (Redis). */
  close(): Promise<void>;
}

const SAMPLE = 10;

export function makeContext(
  deps: ContextDeps,
  m: LoadedMigration,
  record: MigrationRecord,
  store: RecordStore,
): RunState {
  const notes: string[] = [];
  const failures: string[] = [];
  const skippedBy = new Map<string, number>();
  const log = deps.log.child({ migration: m.id });
  let redis: Redis | undefined;
  const ctx: MigrationContext = {
    id: m.id,
    couch: deps.couch,
    settings: deps.settings,
    log,
    progress: deps.progress,
    dryRun: deps.dryRun,
    counts: record.counts,
    signal: deps.signal,
    startedAt: record.startedAt,
    now: () => Date.now(),
    async redis() {
      if (redis) return redis;
      if (!deps.redis) {
        throw new Error(`${m.id} needs Redis: pass --redis <url> or --sentinels <host:port,…>, or set OOSE_REDIS__URL`);
      }
      redis = deps.redis();
      await redis.ping();
      return redis;
    },
    checkpoint: {
      get: <T>() => record.checkpoint as T | undefined,
      async set<T>(value: T) {
        await deps.hold();
        record.checkpoint = value;
        record.counts = ctx.counts;
        await store.save(record);
      },
    },
    note(message) {
      notes.push(message);
      log.info(message);
    },
    skip(id, reason) {
      ctx.counts.skipped++;
      const n = (skippedBy.get(reason) ?? 0) + 1;
      skippedBy.set(reason, n);
      if (n <= SAMPLE) log.warn({ id, reason }, "skipped");
    },
    fail(id, reason) {
      ctx.counts.errors++;
      if (failures.length < SAMPLE) failures.push(`${id}: ${reason}`);
      log.error({ id, reason }, "could not migrate");
    },
  };
  return {
    ctx,
    notes,
    failures,
    async close() {
      for (const [reason, n] of skippedBy) notes.push(`skipped ${n} (${reason})`);
      redis?.disconnect();
    },
  };
}

import path from "node:path";
import type { Command } from "commander";
import { ensureDatabases } from "../adapters/couch/setup.js";
import { purchaseChannel } from "../adapters/redis/purchases.js";
import { ArchiveError, type BackupRecord, type DocRecord, type KeyRecord, readArchive } from "./backup-archive.js";
import { isRedisKind, isSection, type Section, USERS } from "./backup-scope.js";
import { defineCommand, intOption } from "./common.js";
import {
  action,
  addOpsOptions,
  announcer,
  type Cluster,
  connect,
  EXIT,
  type OpsFlags,
  secs,
  UsageError,
} from "./ops.js";
import { type Reporter, reporter } from "./progress.js";
import { type Pruned, pruneDocs, pruneKeys, type Known, knownIds } from "./restore-prune.js";
import { type DocCounts, type KeyCounts, restoreDocs, restoreKeys } from "./restore-write.js";

// `oose restore <file>`: an `oose backup` archive back into CouchDB and Redis.
// The whole archive is read and checked first (gzip CRC, every record, the end
// record's count), so a damaged or foreign file is refused before anything is
// written. Then CouchDB in the archive's order (users and content before
// what points at them), then Redis. Idempotent: a doc the target already has
// is updated to the archive's content, never duplicated; keys keep the TTL
// they had left. Nothing the archive does not know is deleted unless --prune.

interface Flags extends OpsFlags {
  dryRun?: boolean;
  prune?: boolean;
  batchSize: number;
}

interface Totals {
  docs: Record<string, DocCounts>;
  keys: Record<string, KeyCounts>;
  pruned: Record<string, number>;
  problems: string[];
}

const docCounts = (): DocCounts => ({ created: 0, updated: 0, unchanged: 0, failed: 0 });
const keyCounts = (): KeyCounts => ({ restored: 0, unchanged: 0, expired: 0, failed: 0 });

async function check(file: string, progress: Reporter, prune: boolean) {
  progress.begin("check archive");
  const known: Known | undefined = prune ? knownIds() : undefined;
  let n = 0;
  const result = await readArchive(file, (r) => {
    n++;
    const part = "db" in r ? r.db : r.redis;
    if ("db" in r ? !isSection(r.db) : !isRedisKind(r.redis))
      throw new ArchiveError(`record ${n}: unknown part "${part}"`);
    known?.add(part, "db" in r ? r.doc._id : r.key);
    progress.update(n, `${n} records`);
  });
  progress.end(`${n} records, end record matches`);
  known?.seal();
  return { ...result, known };
}

type Checked = Awaited<ReturnType<typeof check>>;

/** One pass over the archive, writing the records `pick` keeps in batches of one part. */
async function writePass<R extends BackupRecord>(
  file: string,
  pick: (r: BackupRecord) => r is R,
  partOf: (r: R) => string,
  size: number,
  flush: (part: string, batch: R[]) => Promise<void>,
): Promise<void> {
  let part = "";
  let batch: R[] = [];
  const send = async () => {
    if (batch.length > 0) await flush(part, batch);
    batch = [];
  };
  await readArchive(file, async (r) => {
    if (!pick(r)) return;
    if (partOf(r) !== part || batch.length >= size) await send();
    part = partOf(r);
    batch.push(r);
  });
  await send();
}

const isDoc = (r: BackupRecord): r is DocRecord => "db" in r;
const isKey = (r: BackupRecord): r is KeyRecord => "redis" in r;

async function write(c: Cluster, file: string, flags: Flags, checked: Checked, t: Totals, progress: Reporter) {
  const { known } = checked;
  const redis = c.redis()!;
  const dryRun = Boolean(flags.dryRun);
  const problem = (what: string, why: string) => {
    if (t.problems.length < 20) t.problems.push(`${what}: ${why}`);
  };
  const announce = announcer(c);
  let done = 0;
  progress.begin(`restore${dryRun ? " (dry run)" : ""}`, checked.end.records);
  await writePass(
    file,
    isDoc,
    (r) => r.db,
    flags.batchSize,
    async (part, batch) => {
      t.docs[part] ??= docCounts();
      const counts = t.docs[part];
      const written = await restoreDocs(
        c.couch,
        part as Section,
        batch.map((r) => r.doc),
        { dryRun, counts, problem },
      );
      if (part === "inventory" && written.length > 0)
        await announce?.(written.filter((id) => !id.startsWith("_design/")).map((id) => id.split(":")[0]!));
      done += batch.length;
      progress.update(
        done,
        `${part}: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged`,
      );
    },
  );
  await writePass(
    file,
    isKey,
    (r) => r.redis,
    flags.batchSize,
    async (part, batch) => {
      t.keys[part] ??= keyCounts();
      const counts = t.keys[part];
      const written = await restoreKeys(redis, c.prefix, batch, { dryRun, counts, problem });
      // Prisms drop what they cached of these purchases (a miss while Redis was empty among them).
      if (part === "purchase" && written.length > 0) {
        const pipe = redis.pipeline();
        for (const key of written) pipe.publish(purchaseChannel(c.prefix), key.slice("purchase:".length));
        await pipe.exec();
      }
      done += batch.length;
      progress.update(
        done,
        `${part}: ${counts.restored} restored, ${counts.unchanged} unchanged, ${counts.expired} expired`,
      );
    },
  );
  progress.end(`${done} records`);
  if (!known) return;
  const note = (p: Pruned) => {
    t.pruned[p.part] = p.removed;
  };
  for (const part of known.parts("doc"))
    note(await pruneDocs(c.couch, part as Section, known, dryRun, flags.batchSize));
  for (const part of known.parts("key")) note(await pruneKeys(redis, c.prefix, part, known, dryRun, flags.batchSize));
}

async function restore(flags: Flags, file: string): Promise<number> {
  if (!file) throw new UsageError("name the archive: oose restore <file>");
  const where = path.resolve(file);
  const progress = reporter(flags);
  const started = performance.now();
  let checked: Checked;
  try {
    checked = await check(where, progress, Boolean(flags.prune));
  } catch (err) {
    if (!(err instanceof ArchiveError)) throw err;
    console.error(`REFUSED: ${where}: ${err.message}. Nothing was restored.`);
    return EXIT.failed;
  }
  const { header } = checked;
  const c = connect(flags, "restore");
  const t: Totals = { docs: {}, keys: {}, pruned: {}, problems: [] };
  let stopped: string | undefined;
  try {
    if (!c.redis())
      throw new UsageError("Redis: pass --redis or --sentinels, or set OOSE_REDIS__URL / OOSE_REDIS__SENTINELS");
    if (!flags.dryRun) {
      await ensureDatabases(c.couch);
      await c.couch.server.db.create(USERS).catch((err) => {
        if ((err as { statusCode?: number }).statusCode !== 412) throw err;
      });
    }
    await write(c, where, flags, checked, t, progress);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    stopped = (err as Error).message;
  } finally {
    await c.close();
  }
  const failed = [...Object.values(t.docs), ...Object.values(t.keys)].reduce((n, x) => n + x.failed, 0);
  const ok = !stopped && failed === 0;
  const ms = performance.now() - started;
  if (flags.json)
    console.log(JSON.stringify({ file: where, from: header, dryRun: Boolean(flags.dryRun), ok, stopped, ...t, ms }));
  else report(where, header.createdAt, flags, t, ms);
  if (stopped) console.error(`STOPPED: ${stopped}`);
  if (!ok && !flags.dryRun)
    console.error(
      "INCOMPLETE: part of the archive is restored. Fix the cause and run restore again: it is idempotent.",
    );
  return ok ? EXIT.ok : EXIT.failed;
}

function report(file: string, createdAt: string, flags: Flags, t: Totals, ms: number): void {
  console.log(`\nrestore ${file} (backup of ${createdAt})${flags.dryRun ? " (dry run: nothing was written)" : ""}`);
  for (const [part, n] of Object.entries(t.docs))
    console.log(
      `  ${part.padEnd(14)} ${n.created} created, ${n.updated} updated, ${n.unchanged} unchanged, ${n.failed} failed`,
    );
  for (const [part, n] of Object.entries(t.keys))
    console.log(
      `  ${part.padEnd(14)} ${n.restored} restored, ${n.unchanged} unchanged, ${n.expired} expired (skipped), ${n.failed} failed`,
    );
  if (flags.prune) for (const [part, n] of Object.entries(t.pruned)) console.log(`  ${part.padEnd(14)} ${n} pruned`);
  else console.log("  nothing deleted: docs and keys the archive does not know were kept (--prune removes them)");
  for (const p of t.problems) console.log(`  ${p}`);
  console.log(`  took           ${secs(ms)}`);
  console.log("Files written since the backup: run `oose inventory scan --store <name>` on each store.");
}

defineCommand((program: Command) => {
  addOpsOptions(
    program
      .command("restore <file>")
      .description("restore an `oose backup` archive into CouchDB and Redis (idempotent)"),
    { redis: true },
  )
    .option("--dry-run", "check the archive and compare it with the cluster; write nothing")
    .option("--prune", "also delete docs and keys (of the parts the archive holds) that the archive does not know")
    .option("--batch-size <n>", "docs per CouchDB request, keys per Redis pipeline", intOption("--batch-size", 1), 500)
    .action(action(restore));
});

import path from "node:path";
import type { Command } from "commander";
import { type ArchiveWriter, FORMAT, VERSION, writeArchive } from "./backup-archive.js";
import { docsOf, keysOf, presentSections, REDIS_KINDS, type RedisKind } from "./backup-scope.js";
import { defineCommand, intOption } from "./common.js";
import { action, addOpsOptions, connect, EXIT, type OpsFlags, secs, UsageError } from "./ops.js";
import { reporter } from "./progress.js";

// `oose backup <file>`: the CouchDB databases and the Redis purchases and
// sessions in one archive (backup-archive.ts), read page by page so memory
// stays flat however big the inventory. Redis is read first, then CouchDB with
// the inventory last: every purchase and session in the archive then points at
// content and users that were recorded before they were read.

interface Flags extends OpsFlags {
  dryRun?: boolean;
  pageSize: number;
}

const SECRET_NOTE = "it holds users' password hashes and session tokens: keep it as secret as the cluster's passwords";

async function backup(flags: Flags, file: string): Promise<number> {
  if (!file) throw new UsageError("name the archive file: oose backup <file>");
  const c = connect(flags, "backup");
  const started = performance.now();
  const counts: Record<string, number> = {};
  const skipped: string[] = [];
  let out: ArchiveWriter | undefined;
  try {
    const redis = c.redis();
    if (!redis)
      throw new UsageError("Redis: pass --redis or --sentinels, or set OOSE_REDIS__URL / OOSE_REDIS__SENTINELS");
    const sections = await presentSections(c.couch);
    const progress = reporter(flags);
    const header = {
      format: FORMAT,
      version: VERSION,
      createdAt: new Date().toISOString(),
      database: c.config.couchdb.database,
      prefix: c.prefix,
    } as const;
    out = flags.dryRun ? undefined : writeArchive(path.resolve(file), header);
    const take = async (name: string, pages: AsyncIterable<object[]>) => {
      counts[name] = 0;
      progress.begin(`backup ${name}`);
      for await (const page of pages) {
        for (const r of page) await out?.write(r as Parameters<ArchiveWriter["write"]>[0]);
        counts[name] += page.length;
        progress.update(counts[name], `${counts[name]} ${name}`);
      }
      progress.end(`${counts[name]} ${name}`);
    };
    for (const kind of Object.keys(REDIS_KINDS) as RedisKind[])
      await take(
        kind,
        keysOf(redis, c.prefix, kind, flags.pageSize, (k) => skipped.push(k)),
      );
    for (const s of sections) await take(s, docsOf(c.couch, s, flags.pageSize));
    await out?.finish(counts);
    out = undefined;
  } finally {
    await out?.abort();
    await c.close();
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const ms = performance.now() - started;
  const where = path.resolve(file);
  if (flags.json)
    console.log(
      JSON.stringify({
        file: flags.dryRun ? null : where,
        mode: "0600",
        dryRun: Boolean(flags.dryRun),
        counts,
        records: total,
        skipped: skipped.length,
        ms,
      }),
    );
  else {
    console.log(`\nbackup${flags.dryRun ? " (dry run: nothing was written)" : ` ${where}`}`);
    for (const [name, n] of Object.entries(counts)) console.log(`  ${name.padEnd(14)} ${n}`);
    if (skipped.length > 0) console.log(`  skipped        ${skipped.length} key(s) gone or of another type meanwhile`);
    console.log(`  took           ${secs(ms)}`);
    if (!flags.dryRun) console.log(`written with mode 0600: ${SECRET_NOTE}.`);
    console.log("OK");
  }
  return EXIT.ok;
}

defineCommand((program: Command) => {
  addOpsOptions(
    program
      .command("backup <file>")
      .description("write CouchDB's OOSE databases and Redis' purchases and sessions to one archive (mode 0600)"),
    { redis: true },
  )
    .option("--dry-run", "read everything and count it; write no file")
    .option("--page-size <n>", "docs per CouchDB request, keys per SCAN step", intOption("--page-size", 1), 1000)
    .action(action(backup));
});

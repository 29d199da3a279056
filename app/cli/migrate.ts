import type { Command } from "commander";
import { openCouch } from "../adapters/couch/index.js";
import { openRedis } from "../adapters/redis/index.js";
import { ConfigError } from "../config.js";
import { cliLogger } from "../log.js";
import {
  type MigrationResult,
  migrateDown,
  migrateUp,
  migrationStatus,
  type RunReport,
} from "../../migrations/lib/runner.js";
import { silentProgress } from "../../migrations/lib/types.js";
import {
  addConnectionOptions,
  type ConnectionFlags,
  defineCommand,
  intOption,
  loadToolConfig,
  redisPrefix,
} from "./common.js";
import { formatCounts, lineReporter, migrationProgress, reporter } from "./progress.js";

// `oose migrate up|status|down`: CouchDB and Redis migrations from any OOSE
// 2.0.x–2.2 cluster. Exit codes: 0 done, 1 a migration failed (named), 2 bad
// configuration, 3 another runner holds the lock.

interface RunFlags extends ConnectionFlags {
  dryRun?: boolean;
  to?: number;
  batchSize: number;
  leaseMs: number;
  warmViews: boolean;
  viewTimeout: number;
  dir?: string;
  json?: boolean;
  verbose?: boolean;
}

export const EXIT = { ok: 0, failed: 1, config: 2, locked: 3 } as const;

function setup(flags: RunFlags & { dryRun?: boolean }) {
  const config = loadToolConfig(flags);
  const log = cliLogger("migrate");
  log.level = process.env.OOSE_LOG_LEVEL ?? (flags.verbose ? "info" : "warn");
  // Tools move a lot per request: a generous timeout (retries cover the rest).
  const couch = openCouch({ ...config.couchdb, timeoutMs: Math.max(config.couchdb.timeoutMs, 60_000) });
  const progress = flags.json
    ? silentProgress
    : process.stderr.isTTY
      ? migrationProgress(reporter({}))
      : migrationProgress(lineReporter((line) => console.log(line)));
  return {
    couch,
    options: {
      couch,
      // The nodes' 2 s is for request paths; a job started with Redis may find it still electing or syncing.
      redis: config.redis
        ? () => openRedis({ ...config.redis!, commandTimeoutMs: Math.max(config.redis!.commandTimeoutMs, 30_000) }, log)
        : undefined,
      settings: {
        database: config.couchdb.database,
        couchUser: config.couchdb.username,
        redisPrefix: redisPrefix(config),
        afterlife: config.purchase.afterlife,
        batchSize: flags.batchSize,
        warmViews: flags.warmViews,
        viewBuildTimeoutMs: flags.viewTimeout,
      },
      log,
      progress,
      dryRun: Boolean(flags.dryRun),
      to: flags.to,
      leaseMs: flags.leaseMs,
      dir: flags.dir,
      command: process.argv.slice(2).join(" ").slice(0, 200),
    },
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function printReport(what: string, report: RunReport, dryRun: boolean): void {
  console.log(`\nmigrate ${what}${dryRun ? " (dry run: nothing was written)" : ""}`);
  if (report.alreadyApplied.length > 0) console.log(`  already applied: ${report.alreadyApplied.join(", ")}`);
  for (const r of report.results) {
    const resumed = r.resumed ? " (resumed)" : "";
    console.log(
      `  ${r.id.padEnd(28)} ${r.outcome.padEnd(12)} ${formatCounts(r.counts)}  ${seconds(r.durationMs)}${resumed}`,
    );
    for (const note of r.notes) console.log(`      ${note}`);
    if (r.error) console.log(`      error: ${r.error}`);
  }
  const failed = report.results.find((r: MigrationResult) => r.error);
  if (report.ok)
    console.log(report.results.length === 0 ? "nothing to do" : `OK: ${report.results.length} migration(s)`);
  else if (failed) console.log(`FAILED: ${failed.id}: ${failed.error}`);
  else console.log(`FAILED: ${report.error}`);
}

async function run(direction: "up" | "down", flags: RunFlags): Promise<number> {
  const { couch, options } = setup(flags);
  try {
    const report = direction === "up" ? await migrateUp(options) : await migrateDown(options);
    if (flags.json) console.log(JSON.stringify({ direction, dryRun: options.dryRun, ...report }));
    else printReport(direction, report, options.dryRun);
    return report.ok ? EXIT.ok : report.refusedBy ? EXIT.locked : EXIT.failed;
  } finally {
    await couch.close();
  }
}

async function status(flags: RunFlags): Promise<number> {
  const { couch, options } = setup(flags);
  try {
    const s = await migrationStatus(options);
    if (flags.json) {
      console.log(JSON.stringify(s));
      return EXIT.ok;
    }
    if (s.metaMissing) console.log(`${couch.name("meta")} does not exist yet: nothing applied`);
    for (const row of s.rows) {
      const r = row.record;
      const when = r?.finishedAt ?? r?.updatedAt ?? "";
      const extra = r ? `${formatCounts(r.counts)}${r.error ? `; error: ${r.error}` : ""}` : row.description;
      console.log(
        `${row.id.padEnd(28)} ${row.state.padEnd(8)}${row.changed ? " (file changed)" : ""} ${when} ${extra}`,
      );
    }
    if (s.lock) {
      const expired = s.lock.expiresAt < Date.now() ? " (lease expired)" : "";
      console.log(`locked by pid ${s.lock.pid} on ${s.lock.host} since ${s.lock.startedAt}${expired}`);
    }
    return EXIT.ok;
  } finally {
    await couch.close();
  }
}

function common(cmd: Command, o: { redis: boolean }): Command {
  const lease = Number(process.env.OOSE_MIGRATE_LEASE_MS ?? 60_000);
  return addConnectionOptions(cmd, o)
    .option("--batch-size <n>", "docs per batch", intOption("--batch-size", 1), 1000)
    .option(
      "--lease-ms <ms>",
      "lock lease; a killed runner's lock is free after it",
      intOption("--lease-ms", 100),
      lease,
    )
    .option("--no-warm-views", "do not index the inventory views after a bulk import")
    .option("--view-timeout <ms>", "longest wait for a view build", intOption("--view-timeout", 1000), 3_600_000)
    .option("--dir <path>", "migrations folder (default: the bundled one)")
    .option("--json", "print the report as one JSON line (no progress output)")
    .option("--verbose", "log at info level");
}

/** Runs an action and turns its outcome into the process exit code. */
const action =
  (fn: (flags: RunFlags) => Promise<number>) =>
  async (flags: RunFlags): Promise<void> => {
    try {
      process.exitCode = await fn(flags);
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(err.message);
        process.exitCode = EXIT.config;
        return;
      }
      console.error(`FAILED: ${(err as Error).message ?? err}`);
      process.exitCode = EXIT.failed;
    }
  };

defineCommand((program) => {
  const migrate = program
    .command("migrate")
    .description("upgrade the CouchDB and Redis data of an OOSE 2.0.x–2.2 cluster (re-runnable, resumable)");
  common(migrate.command("up").description("apply pending migrations in order"), { redis: true })
    .option("--dry-run", "change nothing; report what would be done")
    .option("--to <n>", "stop after migration number n", intOption("--to"))
    .action(action((flags) => run("up", flags)));
  common(migrate.command("status").description("list migrations, their state and the lock"), { redis: false }).action(
    action(status),
  );
  common(migrate.command("down").description("revert applied migrations above --to (default: the last one)"), {
    redis: true,
  })
    .option("--dry-run", "change nothing; report what would be done")
    .option("--to <n>", "keep migrations up to number n", intOption("--to"))
    .action(action((flags) => run("down", flags)));
});

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command } from "commander";
import { Redis } from "ioredis";
import nano from "nano";
import { freePort, startProc, waitFor } from "../infra/local/proc.js";
import { startCouch } from "../infra/local/services.js";
import { defaultShape, legacyPeers } from "../test/migrations/fixtures/legacy.js";
import { seed } from "../test/migrations/fixtures/seed.js";
import { cli, report } from "../test/migrations/helpers.js";

// Migrates N legacy (2.0.3) inventory docs on the CouchDB stand-in: docs/s,
// the runner's peak RSS, and a kill at 50% followed by a resume. Baseline: the
// stand-in's raw _bulk_docs rate for the same docs (the seeding phase).
// Bounded: N shrinks to fit free memory, seeding stops at its share of the
// budget, and every run is killed at the deadline. Stops everything it started.
//   npx tsx bench/migrate.ts [--docs 1000000] [--budget-s 840]

const o = new Command()
  .option("--docs <n>", "legacy inventory docs", (v) => Number(v), 1_000_000)
  .option("--batch <n>", "migration batch size", (v) => Number(v), 1000)
  .option("--budget-s <s>", "wall-clock budget for the whole bench", (v) => Number(v), 840)
  .parse()
  .opts<{ docs: number; batch: number; budgetS: number }>();

const started = Date.now();
const deadline = started + o.budgetS * 1000;
const left = () => deadline - Date.now();
const secs = (ms: number) => (ms / 1000).toFixed(1);
const log = (line: string) => console.log(`[${secs(Date.now() - started).padStart(6)} s] ${line}`);

function rssKb(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

// The stand-in keeps everything in memory: ~5.3 KB per doc (measured), source and target.
const fit = Math.floor((os.freemem() * 0.6) / (2 * 5.3 * 1024));
const wanted = Math.min(o.docs, fit);
if (wanted < o.docs) log(`free memory fits ${wanted} docs, not ${o.docs}`);

const dir = mkdtempSync(path.join(os.tmpdir(), "oose-bench-migrate-"));
const [couchPort, redisPort] = [await freePort(), await freePort()];
const couchProc = await startCouch({ port: couchPort, logDir: dir });
const redisProc = startProc("redis", "redis-server", ["--port", String(redisPort), "--save", "", "--dir", dir], {
  logDir: dir,
});
const couchUrl = `http://127.0.0.1:${couchPort}`;
const server = nano(couchUrl);
const meta = server.use<Record<string, unknown>>("bench-meta");
const getDoc = (id: string) => meta.get(id).catch(() => undefined) as Promise<Record<string, unknown> | undefined>;
const results: Record<string, unknown> = {};

try {
  const redis = new Redis(redisPort, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on("error", () => undefined);
  await waitFor("redis", async () => (await redis.ping()) === "PONG");
  redis.disconnect();
  // 1. Seed (the baseline): plain _bulk_docs of the legacy docs, stopped at 40% of the budget.
  const stopSeeding = new AbortController();
  const seedDeadline = setTimeout(() => stopSeeding.abort(), o.budgetS * 400);
  const shape = defaultShape({ inventory: wanted, purchases: 0, downvotes: 0, prisms: 2, storesPerPrism: 4 });
  const t0 = Date.now();
  let lastLog = 0;
  const seeded = await seed("2.0.3", shape, {
    server,
    database: "bench",
    batch: 5000,
    signal: stopSeeding.signal,
    onBatch: (n) => {
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        log(`seeded ${n}`);
      }
    },
  });
  clearTimeout(seedDeadline);
  const seedMs = Date.now() - t0;
  const docs = seeded - legacyPeers(shape).length;
  const baseline = seeded / (seedMs / 1000);
  log(`seeded ${docs} inventory docs in ${secs(seedMs)} s: ${baseline.toFixed(0)} docs/s raw _bulk_docs (baseline)`);
  Object.assign(results, { requested: o.docs, docs, seedSeconds: seedMs / 1000, baselineDocsPerSec: baseline });

  const args = [
    "migrate",
    "up",
    "--couchdb",
    couchUrl,
    "--database",
    "bench",
    "--redis",
    `redis://127.0.0.1:${redisPort}`,
    "--batch-size",
    String(o.batch),
    "--lease-ms",
    "5000",
    "--no-warm-views",
    "--json",
  ];
  const recordId = "migration:0002-legacy-2.0-split";
  const scanned = async () => ((await getDoc(recordId))?.checkpoint as { scanned?: number } | undefined)?.scanned ?? 0;

  /** One runner; `stopAt` kills it (SIGKILL by pid) once that many rows are checkpointed. */
  async function run(label: string, stopAt?: number) {
    const t = Date.now();
    const proc = cli(args, { OOSE_LOG_LEVEL: "error" });
    let peak = 0;
    let firstAdvance: number | undefined;
    const from = await scanned();
    let ended = false;
    const done = proc.done.then((r) => {
      ended = true;
      return r;
    });
    while (!ended) {
      peak = Math.max(peak, rssKb(proc.pid).hwm);
      const at = await scanned();
      if (firstAdvance === undefined && at > from) firstAdvance = Date.now() - t;
      if ((stopAt !== undefined && at >= stopAt) || left() < 0) {
        proc.kill("SIGKILL");
        break;
      }
      await sleep(200);
    }
    const result = await done;
    const ms = Date.now() - t;
    if (result.code !== 0 && result.code !== null) {
      log(`${label} failed:\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
    }
    const at = await scanned();
    const rate = ((at || docs) - from) / (ms / 1000);
    log(`${label}: exit ${result.code} after ${secs(ms)} s, peak RSS ${(peak / 1024).toFixed(0)} MiB`);
    return { ms, peakMiB: peak / 1024, code: result.code, result, rowsFrom: from, rowsAt: at, rate, firstAdvance };
  }

  // 2. Kill at 50%.
  const first = await run("run 1 (killed at 50%)", Math.floor(docs / 2));
  const killedAt = first.rowsAt;
  log(`killed at ${killedAt} rows: ${((killedAt / first.ms) * 1000).toFixed(0)} docs/s`);
  // 3. The killed runner's lease must run out before another may take over.
  const tw = Date.now();
  await waitFor(
    "lease expiry",
    async () => {
      const lock = await getDoc("lock:migrate");
      return !lock || (lock.expiresAt as number) < Date.now();
    },
    30_000,
    100,
  );
  const leaseWaitMs = Date.now() - tw;
  // 4. Resume.
  const second = await run("run 2 (resume)");
  const rep = second.code === 0 ? report(second.result) : undefined;
  const split = rep?.results.find((r: { id: string }) => r.id === "0002-legacy-2.0-split");
  const info = await server.db.get("bench-inventory");
  const migrated = info.doc_count - 2; // the two design docs

  const remaining = docs - killedAt;
  const steady = (killedAt / first.ms) * 1000;
  Object.assign(results, {
    killedAtRows: killedAt,
    run1Seconds: first.ms / 1000,
    run1DocsPerSec: steady,
    leaseWaitSeconds: leaseWaitMs / 1000,
    resumeSeconds: second.ms / 1000,
    resumeFirstBatchSeconds: (second.firstAdvance ?? 0) / 1000,
    resumeDocsPerSec: (remaining / second.ms) * 1000,
    overallDocsPerSec: (docs / (first.ms + second.ms)) * 1000,
    peakRssMiB: Math.max(first.peakMiB, second.peakMiB),
    standInRssMiB: rssKb(couchProc.pid).rss / 1024,
    migratedDocs: migrated,
    complete: second.code === 0 && migrated === docs,
    resumedCounts: split?.counts,
    ratioToBaseline: ((docs / (first.ms + second.ms)) * 1000) / baseline,
  });
  if (docs < 1_000_000) {
    results.extrapolated1MSeconds = (1_000_000 / (results.overallDocsPerSec as number)).toFixed(0);
  }
  log(`result: ${JSON.stringify(results)}`);
  if (!results.complete) process.exitCode = 1;
} finally {
  await couchProc.stop();
  await redisProc.stop();
  rmSync(dir, { recursive: true, force: true });
}

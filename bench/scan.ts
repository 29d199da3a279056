import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { openCouch } from "../app/adapters/couch/index.js";
import { copyPages } from "../app/adapters/couch/pages.js";
import { ensureDatabases } from "../app/adapters/couch/setup.js";
import { locate } from "../app/core/layout.js";
import { InventoryScan, type ScanReport } from "../app/jobs/scan.js";
import { freePort } from "../infra/local/proc.js";
import { startCouch } from "../infra/local/services.js";
import { INVENTORY_DESIGN, KEYLIST_DESIGN } from "../migrations/0001-base.js";

// `oose inventory scan` on N files in the real layout (sha1: 19 folder levels
// per file, so ~17 folders of their own for each file past the first levels),
// against the CouchDB stand-in. The files are empty and sparse (truncated to a
// random size, no data blocks): the scan stats files, it never reads them.
// Baseline, measured in the same run on the same tree: GNU find printing size
// and path, the floor any walk of these folders has on this disk.
// Runs: the first scan (every doc created), a re-scan of the unchanged tree
// (the hourly reconcile of spec §14.3), and a scan after 1% of the files were
// removed and 1% added behind the inventory's back (counts checked exactly).
// N shrinks to fit free inodes, disk and the time budget; 1M is extrapolated.
//   npx tsx bench/scan.ts [--files 1000000] [--budget-s 600] [--dir /tmp]

const o = new Command()
  .option("--files <n>", "files wanted", (v) => Number(v), 1_000_000)
  .option("--budget-s <s>", "wall-clock budget for the whole bench", (v) => Number(v), 600)
  .option("--dir <dir>", "where the tree goes (a local disk)", os.tmpdir())
  .option("--batch <n>", "scan batch size", (v) => Number(v), 2000)
  .option("--concurrency <n>", "scan concurrency", (v) => Number(v), 16)
  .parse()
  .opts<{ files: number; budgetS: number; dir: string; batch: number; concurrency: number }>();

const started = Date.now();
const secs = (ms: number) => (ms / 1000).toFixed(1);
const log = (line: string) => console.log(`[${secs(Date.now() - started).padStart(6)} s] ${line}`);
const results: Record<string, unknown> = { requested: o.files, cores: os.cpus().length, loadavg: os.loadavg()[0] };

// Folders per file beyond the shared top levels: 19 levels, the first 2 shared by everyone.
const FOLDERS_PER_FILE = 17;
const fs = statfsSync(o.dir);
const byInodes = Math.floor((fs.ffree * 0.5) / (FOLDERS_PER_FILE + 1));
const byBytes = Math.floor((fs.bavail * fs.bsize * 0.5) / ((FOLDERS_PER_FILE + 1) * fs.bsize));
const root = mkdtempSync(path.join(o.dir, "oose-bench-scan-"));
const dataRoot = path.join(root, "data");
const content = path.join(dataRoot, "content");
mkdirSync(content, { recursive: true });

const EXTS = ["mp4", "jpg", "txt", "bin", "webm"];
function makeFile(): string {
  const hash = randomBytes(20).toString("hex");
  const ext = EXTS[hash.charCodeAt(0) % EXTS.length]!;
  const loc = locate(content, hash, ext);
  mkdirSync(loc.dir, { recursive: true });
  const fd = openSync(loc.file!, "w");
  // Sparse: a size (1 KiB … 256 MiB) without data blocks.
  ftruncateSync(fd, 1024 + Math.floor(Math.random() * 256 * 1024 ** 2));
  closeSync(fd);
  return loc.file!;
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 200);
sampler.unref();

const port = await freePort();
const couchProc = await startCouch({ port, logDir: root });
const couch = openCouch({ url: `http://127.0.0.1:${port}`, database: "bench", timeoutMs: 120_000 });
try {
  await ensureDatabases(couch);
  const inv = couch.db<Record<string, unknown>>("inventory");
  for (const ddoc of [INVENTORY_DESIGN, KEYLIST_DESIGN]) await inv.insert({ ...ddoc });

  // 1. Generate: measure the rate on a sample, then fit N to inodes, disk and ~30% of the budget.
  const t0 = Date.now();
  const sample = 2000;
  for (let i = 0; i < sample; i++) makeFile();
  const perFileMs = (Date.now() - t0) / sample;
  // Measured per file: removing the tree costs about what making it did, the find and the three scans ~2 ms.
  const byTime = Math.floor((o.budgetS * 1000) / (perFileMs * 2 + 2));
  const n = Math.max(sample, Math.min(o.files, byInodes, byBytes, byTime));
  log(
    `fits ${n} files (asked ${o.files}; inodes ${byInodes}, disk ${byBytes}, time ${byTime} at ${perFileMs.toFixed(2)} ms/file)`,
  );
  for (let i = sample; i < n; i++) makeFile();
  const genMs = Date.now() - t0;
  log(`generated ${n} empty sparse files in ${secs(genMs)} s`);
  Object.assign(results, { files: n, generateSeconds: genMs / 1000 });

  // 2. Baseline: GNU find, size and path of every file (streamed to wc: nothing held).
  const tf = Date.now();
  const find = spawnSync("sh", ["-c", `find '${content}' -type f -printf '%s %P\\n' | wc -l`], { encoding: "utf8" });
  const findMs = Date.now() - tf;
  const findRate = Number(find.stdout.trim()) / (findMs / 1000);
  log(`baseline find: ${find.stdout.trim()} files in ${secs(findMs)} s = ${findRate.toFixed(0)} files/s`);
  Object.assign(results, { findSeconds: findMs / 1000, findFilesPerSec: Math.round(findRate) });

  const scan = async (label: string): Promise<ScanReport> => {
    peakRss = 0;
    const job = new InventoryScan({
      couch,
      dataRoot,
      store: "store1",
      prism: "prism1",
      concurrency: o.concurrency,
      batchSize: o.batch,
      throttle: 0,
      dryRun: false,
      force: false,
    });
    const r = await job.run();
    const rate = r.counts.files / (r.ms / 1000);
    log(
      `${label}: ${r.counts.files} files in ${secs(r.ms)} s (walk+reconcile ${secs(r.walkMs)} s, removal check ${secs(r.pruneMs)} s) ` +
        `= ${rate.toFixed(0)} files/s; created ${r.counts.created} updated ${r.counts.updated} removed ${r.counts.removed} ` +
        `valid ${r.counts.valid} errors ${r.counts.errors}; peak RSS ${(peakRss / 1024 ** 2).toFixed(0)} MiB`,
    );
    results[label] = {
      seconds: r.ms / 1000,
      walkSeconds: r.walkMs / 1000,
      removalCheckSeconds: r.pruneMs / 1000,
      filesPerSec: Math.round(rate),
      counts: r.counts,
      peakRssMiB: Math.round(peakRss / 1024 ** 2),
      ratioToFind: Number((rate / findRate).toFixed(2)),
    };
    return r;
  };

  // 3. First scan: every doc is created.
  const first = await scan("firstScan");
  // The stand-in builds its view index on first query; CouchDB keeps its index up to date as docs change.
  const tv = Date.now();
  await inv.view("inventory", "byStore", { limit: 0 });
  results.viewBuildSeconds = (Date.now() - tv) / 1000;
  // 4. Re-scan, nothing changed (the steady state: spec §14.3's hourly reconcile, target 1M in < 90 s).
  const again = await scan("rescan");
  // 5. 1% removed, 1% added behind the inventory's back.
  const k = Math.max(1, Math.floor(n / 100));
  let removed = 0;
  for await (const page of copyPages(couch, "store", "store1", { pageSize: k })) {
    for (const d of page) unlinkSync(path.join(content, d.relativePath));
    removed = page.length;
    break;
  }
  for (let i = 0; i < k; i++) makeFile();
  await inv.view("inventory", "byStore", { limit: 0 });
  const third = await scan("afterChanges");
  const exact = third.counts.created === k && third.counts.removed === removed && third.counts.errors === 0;
  log(
    `after removing ${removed} and adding ${k} files: created ${third.counts.created}, removed ${third.counts.removed}`,
  );
  const steady = again.counts.files / (again.ms / 1000);
  Object.assign(results, {
    changesDetectedExactly: exact,
    firstScanOk: first.counts.created === n && first.counts.errors === 0,
    rescanOk: again.counts.valid === n && again.counts.created + again.counts.updated + again.counts.removed === 0,
    extrapolated1M: {
      rescanSeconds: Math.round(1_000_000 / steady),
      findSeconds: Math.round(1_000_000 / findRate),
      note: "linear in files: each file has ~17 folders of its own at depth, so the walk is per-folder bound",
    },
  });
  log(`result: ${JSON.stringify(results)}`);
  if (!exact || !results.firstScanOk || !results.rescanOk) process.exitCode = 1;
} finally {
  clearInterval(sampler);
  await couch.close();
  await couchProc.stop();
  const tr = Date.now();
  rmSync(root, { recursive: true, force: true });
  log(`removed the tree in ${secs(Date.now() - tr)} s`);
}

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  unlinkSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { setImmediate as yieldToEvents } from "node:timers/promises";
import { Command } from "commander";
import { openCouch } from "../app/adapters/couch/index.js";
import { CouchInventory } from "../app/adapters/couch/inventory.js";
import { BlobStore } from "../app/adapters/disk/index.js";
import { copyPages } from "../app/adapters/couch/paging.js";
import { locate } from "../app/core/layout.js";
import { InventoryScan, SEEN_FALSE_POSITIVES, type ScanReport } from "../app/jobs/scan.js";
import { freePort } from "../infra/local/proc.js";
import { startCouch } from "../infra/local/services.js";
import { ooseWith } from "../test/helpers/ops.js";

// `oose inventory scan` on N files in the real layout (sha1: 19 folder levels
// per file, so ~17 folders of their own for each file past the first levels),
// against the CouchDB stand-in. The files are empty and sparse (truncated to a
// random size, no data blocks): the scan stats files, it never reads them.
// Baseline, measured in the same run on the same tree: GNU find printing size
// and path, the common single-threaded walk of these folders on this disk.
// Runs: the first scan (every doc created), a re-scan of the unchanged tree
// (the hourly reconcile of spec §14.3), and a scan after 1% of the files were
// removed and 1% added behind the inventory's back (counts checked exactly,
// but for one doc a seen-hash false positive may leave to the next run).
// N shrinks to fit free inodes, disk and the time budget; below 1M, the 1M
// figures are extrapolated. Each scan reports the CPU it took, its own and
// the stand-in's (on the same cores), and the load.
//   npx tsx bench/scan.ts [--files 1000000] [--budget-s 600] [--dir /tmp]
//
// The full 1,000,000 files need ~18M inodes, more than most /tmp have. As
// root, on a sparse scratch file system whose one-entry folders live inside
// their inodes (inline_data: no data block per folder), about 25 minutes on
// 2 cores:
//   truncate -s 40G /var/tmp/oose-scan.img
//   mkfs.ext4 -q -F -O inline_data -N 20000000 /var/tmp/oose-scan.img
//   mkdir -p /mnt/oose-scan && mount -o loop /var/tmp/oose-scan.img /mnt/oose-scan
//   npx tsx bench/scan.ts --files 1000000 --dir /mnt/oose-scan --budget-s 4000 --scratch
//   umount /mnt/oose-scan && rm /var/tmp/oose-scan.img
// (--scratch: the tree may fill the file system but 1%, and is left for the
// umount to discard: removing 18M inodes takes about as long as making them.
// Without it, the bench takes at most half of what is free, and cleans up.)

const o = new Command()
  .option("--files <n>", "files wanted", (v) => Number(v), 1_000_000)
  .option("--budget-s <s>", "wall-clock budget for the whole bench", (v) => Number(v), 600)
  .option("--dir <dir>", "where the tree goes (a local disk)", os.tmpdir())
  .option("--batch <n>", "scan batch size", (v) => Number(v), 2000)
  .option("--concurrency <n>", "scan concurrency", (v) => Number(v), 16)
  .option("--walkers <n>", "threads walking the tree (default: the scan's own, one per core up to 4)", (v) => Number(v))
  .option("--scratch", "a scratch file system: fill it but 1%, leave the tree for the umount to discard", false)
  .parse()
  .opts<{
    files: number;
    budgetS: number;
    dir: string;
    batch: number;
    concurrency: number;
    walkers?: number;
    scratch: boolean;
  }>();

const started = Date.now();
const secs = (ms: number) => (ms / 1000).toFixed(1);
const log = (line: string) => console.log(`[${secs(Date.now() - started).padStart(6)} s] ${line}`);
const results: Record<string, unknown> = { requested: o.files, cores: os.cpus().length, loadavg: os.loadavg()[0] };

// Inodes: 17 folders of its own per file (19 levels, the first 2 shared by
// everyone: at most 256 + 65,536 folders) and the file. Disk: measured on the
// first files made, since a folder costs a block or (inline_data) none.
const FOLDERS_PER_FILE = 17;
const SHARED_FOLDERS = 256 + 256 ** 2;
/** What stays free: 1% of a scratch file system, otherwise half of what is free now. */
const reserve = (total: number, free: number) => (o.scratch ? Math.ceil(total * 0.01) : Math.ceil(free / 2));
const fsBefore = statfsSync(o.dir);
const byInodes = Math.floor(
  (fsBefore.ffree - reserve(fsBefore.files, fsBefore.ffree) - SHARED_FOLDERS) / (FOLDERS_PER_FILE + 1),
);
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

/** Makes `count` files, letting signals in every few milliseconds (tsx kills a child that takes 60 ms to answer one). */
async function makeFiles(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    makeFile();
    if (i % 50 === 49) await yieldToEvents();
  }
}

/** The CouchDB stand-in's CPU seconds so far and its peak RSS (MiB), from /proc; undefined elsewhere. */
function standIn(pid: number): { cpuS: number; peakMiB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return { cpuS: (Number(stat[11]) + Number(stat[12])) / 100, peakMiB: Math.round(Number(hwm?.[1] ?? 0) / 1024) };
  } catch {
    return undefined;
  }
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 200);
sampler.unref();

const port = await freePort();
const couchProc = await startCouch({ port, logDir: root });
const couch = openCouch({ url: `http://127.0.0.1:${port}`, database: "bench", timeoutMs: 120_000 });
const stopFind = new AbortController();
const removeAll = async () => {
  stopFind.abort();
  clearInterval(sampler);
  await couch.close();
  await couchProc.stop();
  if (o.scratch) log(`left the tree in ${root} (--scratch): discard the file system`);
  else {
    const tr = Date.now();
    rmSync(root, { recursive: true, force: true });
    log(`removed the tree in ${secs(Date.now() - tr)} s`);
  }
};
let cleaning: Promise<void> | undefined;
const cleanUp = () => (cleaning ??= removeAll());
// Stopped from outside (timeout, Ctrl-C): the stand-in and the tree go all the same.
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(1));
  });
try {
  // The databases and design docs, as a deployment's `oose migrate up` makes them.
  const up = await ooseWith(["migrate", "up", "--couchdb", `http://127.0.0.1:${port}`, "--database", "bench"]);
  if (up.code !== 0) throw new Error(`oose migrate up failed (exit ${up.code}):\n${up.stderr}`);

  // 1. Generate: measure the rate and the disk used on a sample, then fit N to inodes, disk and the budget.
  const t0 = Date.now();
  const sample = 2000;
  await makeFiles(sample);
  const perFileMs = (Date.now() - t0) / sample;
  const fsAfter = statfsSync(o.dir);
  // An upper bound: the sample also made most of the shared folders.
  const bytesPerFile = Math.max(1, ((fsBefore.bavail - fsAfter.bavail) * fsAfter.bsize) / sample);
  const byBytes =
    sample + Math.floor(((fsAfter.bavail - reserve(fsAfter.blocks, fsBefore.bavail)) * fsAfter.bsize) / bytesPerFile);
  // Measured per file: removing the tree costs about what making it did, the find and the three scans ~2 ms.
  const byTime = Math.floor((o.budgetS * 1000) / (perFileMs * (o.scratch ? 1 : 2) + 2));
  const n = Math.max(sample, Math.min(o.files, byInodes, byBytes, byTime));
  log(
    `fits ${n} files (asked ${o.files}; inodes ${byInodes}, disk ${byBytes} at ${(bytesPerFile / 1024).toFixed(1)} KiB/file, ` +
      `time ${byTime} at ${perFileMs.toFixed(2)} ms/file)`,
  );
  await makeFiles(n - sample);
  const genMs = Date.now() - t0;
  log(`generated ${n} empty sparse files in ${secs(genMs)} s`);
  Object.assign(results, { files: n, generateSeconds: genMs / 1000 });

  // 2. Baseline: GNU find, size and path of every file (lines counted as they stream: nothing held).
  const tf = Date.now();
  const found = await new Promise<number>((resolve, reject) => {
    const find = spawn("find", [content, "-type", "f", "-printf", "%s %P\\n"], {
      stdio: ["ignore", "pipe", "inherit"],
      signal: stopFind.signal,
    });
    let lines = 0;
    find.stdout.on("data", (chunk: Buffer) => {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
    });
    find.on("error", reject);
    find.on("close", (code) => (code === 0 ? resolve(lines) : reject(new Error(`find exited with ${code}`))));
  });
  const findMs = Date.now() - tf;
  const findRate = found / (findMs / 1000);
  log(`baseline find: ${found} files in ${secs(findMs)} s = ${findRate.toFixed(0)} files/s`);
  Object.assign(results, { findSeconds: findMs / 1000, findFilesPerSec: Math.round(findRate) });

  const scan = async (label: string): Promise<ScanReport> => {
    peakRss = 0;
    const cpu = process.cpuUsage();
    const couchCpu = standIn(couchProc.pid)?.cpuS;
    const job = new InventoryScan({
      inventory: new CouchInventory(couch),
      blobs: new BlobStore(dataRoot),
      dataRoot,
      store: "store1",
      prism: "prism1",
      concurrency: o.concurrency,
      batchSize: o.batch,
      throttle: 0,
      dryRun: false,
      force: false,
      ...(o.walkers ? { walkers: o.walkers } : {}),
    });
    const r = await job.run();
    const rate = r.counts.files / (r.ms / 1000);
    // Where the time went: this process (walkers, classify, HTTP) and the CouchDB stand-in, on the same cores.
    const used = process.cpuUsage(cpu);
    const couchUsed = couchCpu === undefined ? undefined : (standIn(couchProc.pid)?.cpuS ?? couchCpu) - couchCpu;
    log(
      `${label}: ${r.counts.files} files in ${secs(r.ms)} s (walk+reconcile ${secs(r.walkMs)} s, removal check ${secs(r.pruneMs)} s) ` +
        `= ${rate.toFixed(0)} files/s; created ${r.counts.created} updated ${r.counts.updated} removed ${r.counts.removed} ` +
        `valid ${r.counts.valid} errors ${r.counts.errors}; peak RSS ${(peakRss / 1024 ** 2).toFixed(0)} MiB; ` +
        `CPU: scan user ${secs(used.user / 1000)} s sys ${secs(used.system / 1000)} s, ` +
        `CouchDB stand-in ${couchUsed === undefined ? "?" : couchUsed.toFixed(1)} s; load ${os.loadavg()[0]!.toFixed(2)}`,
    );
    results[label] = {
      seconds: r.ms / 1000,
      walkSeconds: r.walkMs / 1000,
      removalCheckSeconds: r.pruneMs / 1000,
      filesPerSec: Math.round(rate),
      counts: r.counts,
      peakRssMiB: Math.round(peakRss / 1024 ** 2),
      ratioToFind: Number((rate / findRate).toFixed(2)),
      cpuSeconds: {
        user: Number((used.user / 1e6).toFixed(1)),
        system: Number((used.system / 1e6).toFixed(1)),
        ...(couchUsed === undefined ? {} : { couchStandIn: Number(couchUsed.toFixed(1)) }),
      },
      load1: Number(os.loadavg()[0]!.toFixed(2)),
    };
    return r;
  };

  // 3. First scan: every doc is created.
  const first = await scan("firstScan");
  // The stand-in ignores startkey_docid, so the scan's removal pass pages its _all_docs and its views are
  // never built (pages.ts); CouchDB pages the byStore view, whose index it keeps up as docs change.
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
  await makeFiles(k);
  const third = await scan("afterChanges");
  // A removed file whose hash the seen-hash filter wrongly remembers keeps its doc until the next run:
  // under one expected at these rates, so one is allowed.
  const survivors = removed - third.counts.removed;
  const allowed = Math.ceil(removed * 2 * SEEN_FALSE_POSITIVES);
  const exact = third.counts.created === k && survivors >= 0 && survivors <= allowed && third.counts.errors === 0;
  log(
    `after removing ${removed} and adding ${k} files: created ${third.counts.created}, removed ${third.counts.removed}` +
      (survivors > 0 ? ` (${survivors} left for the next run: seen-hash false positives, ${allowed} allowed)` : ""),
  );
  const steady = again.counts.files / (again.ms / 1000);
  Object.assign(results, {
    changesDetectedExactly: exact,
    firstScanOk: first.counts.created === n && first.counts.errors === 0,
    rescanOk: again.counts.valid === n && again.counts.created + again.counts.updated + again.counts.removed === 0,
    ...(n < 1_000_000 && {
      extrapolated1M: {
        rescanSeconds: Math.round(1_000_000 / steady),
        findSeconds: Math.round(1_000_000 / findRate),
        note: "linear in files: each file has ~17 folders of its own at depth, so the walk is per-folder bound",
      },
    }),
  });
  const couchEnd = standIn(couchProc.pid);
  if (couchEnd) results.couchStandInPeakRssMiB = couchEnd.peakMiB;
  log(`result: ${JSON.stringify(results)}`);
  if (!exact || !results.firstScanOk || !results.rescanOk) process.exitCode = 1;
} finally {
  await cleanUp();
}

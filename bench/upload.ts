import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import nano from "nano";
import type { PrismClient } from "../packages/client/src/index.js";
import { hashRange } from "../app/core/inventory.js";
import type { LocalCluster } from "../infra/local/cluster.js";
import { cpuSeconds, drive, fmt, machineBusySeconds, mib, type Rate, type Row, ratio, table, wrkAsync } from "./lib.js";

// Upload throughput against the same bytes written `replicas` times with
// fsync on the same disk (what a perfect cluster would at least have to do),
// plus what uploads cost deliveries running beside them, the inventory
// writers' batch sizes, and the CouchDB stand-in's share of the CPU.

async function writeCopies(dir: string, data: Buffer, replicas: number, i: number): Promise<void> {
  for (let r = 0; r < replicas; r++) {
    const fh = await open(path.join(dir, `${i}-${r}`), "w");
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
  }
}

interface Ctx {
  cluster: LocalCluster;
  clients: PrismClient[];
  dir: string;
}

let uploaded = 0;
const upload = (ctx: Ctx, data: Buffer) =>
  ctx.clients[uploaded % ctx.clients.length]!.upload([{ name: `f${uploaded++}.bin`, data }]);

async function sizeCase(ctx: Ctx, label: string, size: number, count: number, concurrency: number): Promise<{ row: Row; oose: Rate }> {
  const replicas = ctx.cluster.spec.replicas;
  const make = () => Array.from({ length: count }, () => randomBytes(size));
  const base = make();
  const baseline = await drive(count, concurrency, (i) => writeCopies(ctx.dir, base[i]!, replicas, i));
  rmSync(ctx.dir, { recursive: true, force: true });
  mkdirSync(ctx.dir, { recursive: true });
  const files = make();
  const oose = await drive(count, concurrency, (i) => upload(ctx, files[i]!));
  if (oose.errors > 0) throw new Error(`${label}: ${oose.errors} uploads failed`);
  const perFile = size <= 64 * 1024;
  const value = perFile ? oose.perSecond : oose.perSecond * mib(size);
  const baseValue = perFile ? baseline.perSecond : baseline.perSecond * mib(size);
  const unit = perFile ? "files/s" : "MiB/s";
  const p99 = (r: Rate) => `, p99 ${fmt(r.p99, 0)} ms`;
  return {
    oose,
    row: {
      what: `${label} (${count} files, c=${concurrency})`,
      value: `${fmt(value)} ${unit}${p99(oose)}`,
      baseline: `${fmt(baseValue)} ${unit}${p99(baseline)}`,
      ratio: ratio(value, baseValue),
    },
  };
}

/** Docs and `_bulk_docs` requests the stores' inventory writers have sent so far. */
async function writerTotals(cluster: LocalCluster): Promise<{ docs: number; writes: number }> {
  let docs = 0;
  let writes = 0;
  for (const s of cluster.info.stores) {
    const stats = (await (await fetch(`${s.url}/stats`)).json()) as {
      stat?: { store?: { inventory?: { docs?: string; writes?: string } } };
    };
    docs += Number(stats.stat?.store?.inventory?.docs ?? 0);
    writes += Number(stats.stat?.store?.inventory?.writes ?? 0);
  }
  return { docs, writes };
}

/** Runs `work` and says how much of the machine's busy CPU time the CouchDB stand-in took meanwhile. */
async function couchShare<T>(cluster: LocalCluster, work: () => Promise<T>): Promise<{ result: T; share: number; cores: number }> {
  const pid = cluster.procs.couchdb?.pid;
  const c0 = pid ? cpuSeconds(pid) : 0;
  const m0 = machineBusySeconds();
  const t0 = performance.now();
  const result = await work();
  const wall = (performance.now() - t0) / 1000;
  const couch = pid ? cpuSeconds(pid) - c0 : 0;
  return { result, share: couch / Math.max(0.01, machineBusySeconds() - m0), cores: couch / wall };
}

/** 302s per second from GET /<token>/<file>, alone and with 4 KiB uploads at c=8 running beside them. */
async function deliveriesUnderUploads(ctx: Ctx): Promise<Row> {
  const client = ctx.clients[0]!;
  const up = await client.upload([{ name: "deliver.bin", data: randomBytes(4096) }]);
  const { token } = await client.purchase({ hash: up.files.file!.hash, ext: "bin", referrer: [], life: 3_600_000 });
  const url = `${ctx.cluster.info.prisms[0]!.url}/${token}/deliver.bin`;
  const o = { connections: 32, seconds: 8 };
  const alone = await wrkAsync(url, o);
  let stop = false;
  const worker = async () => {
    while (!stop) await upload(ctx, randomBytes(4096));
  };
  const load = Array.from({ length: 8 }, worker);
  const beside = await wrkAsync(url, o).finally(() => {
    stop = true;
  });
  await Promise.all(load);
  for (const r of [alone, beside]) if (r.non2xx3xx > 0 || r.errors > 0) throw new Error("deliver: bad answers");
  return {
    what: "302s for GET /<token>/<file> (wrk, c=32) with 4 KiB uploads at c=8 beside them, vs none",
    value: `${fmt(beside.requestsPerSecond, 0)} req/s, p99 ${fmt(beside.p99ms, 1)} ms`,
    baseline: `${fmt(alone.requestsPerSecond, 0)} req/s, p99 ${fmt(alone.p99ms, 1)} ms`,
    ratio: ratio(beside.requestsPerSecond, alone.requestsPerSecond),
  };
}

async function bulkExistence(ctx: Ctx): Promise<Row> {
  // 100 hashes a request from the prism, against CouchDB range reads of the same hashes.
  const hashes = (
    await Promise.all(Array.from({ length: 100 }, () => upload(ctx, randomBytes(512))))
  ).map((r) => r.files.file!.hash);
  const inventory = nano(ctx.cluster.info.couchdb).use("oose-inventory");
  const rounds = 200;
  const raw = await drive(rounds, 8, () =>
    Promise.all(hashes.map((h) => inventory.list({ ...hashRange(h), include_docs: true }))),
  );
  const bulk = await drive(rounds, 8, (i) => ctx.clients[i % ctx.clients.length]!.detail(hashes));
  const lookups = (r: { perSecond: number }) => r.perSecond * hashes.length;
  return {
    what: "bulk detail, 100 hashes/request (c=8), vs CouchDB range reads",
    value: `${fmt(lookups(bulk), 0)} lookups/s`,
    baseline: `${fmt(lookups(raw), 0)} lookups/s`,
    ratio: ratio(lookups(bulk), lookups(raw)),
  };
}

export async function uploadBench(cluster: LocalCluster, clients: PrismClient[]): Promise<void> {
  const ctx: Ctx = { cluster, clients, dir: path.join(cluster.dataDir, "bench-baseline") };
  mkdirSync(ctx.dir, { recursive: true });
  const replicas = cluster.spec.replicas;
  // A first round warms the prisms' and stores' code paths; it is not reported.
  await drive(200, 8, () => upload(ctx, randomBytes(4096)));
  const before = await writerTotals(cluster);
  const small = await couchShare(cluster, () => sizeCase(ctx, "4 KiB files", 4 * 1024, 1000, 8));
  const after = await writerTotals(cluster);
  const rows = [
    small.result.row,
    (await sizeCase(ctx, "4 KiB files", 4 * 1024, 1000, 32)).row,
    (await sizeCase(ctx, "1 MiB files", 1024 * 1024, 128, 8)).row,
    (await sizeCase(ctx, "64 MiB files", 64 * 1024 * 1024, 8, 8)).row,
  ];
  rmSync(ctx.dir, { recursive: true, force: true });
  rows.push(await bulkExistence(ctx));
  rows.push(await deliveriesUnderUploads(ctx));
  table(`Upload and existence (replicas=${replicas}; baseline: the same bytes written ${replicas}× with fsync)`, rows);
  const docs = after.docs - before.docs;
  const writes = after.writes - before.writes;
  console.log(
    `4 KiB at c=8: inventory writers sent ${fmt(docs, 0)} docs in ${fmt(writes, 0)} requests ` +
      `(mean batch ${fmt(writes ? docs / writes : 0, 2)} docs); the CouchDB stand-in took ` +
      `${fmt(small.share * 100, 0)}% of the machine's busy CPU (${fmt(small.cores, 2)} cores).`,
  );
}

import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import nano from "nano";
import type { PrismClient } from "../app/client/prism.js";
import { hashRange } from "../app/core/inventory.js";
import type { LocalCluster } from "../infra/local/cluster.js";
import { drive, fmt, mib, type Row, ratio, table } from "./lib.js";

// Upload throughput against the same bytes written `replicas` times with
// fsync on the same disk (what a perfect cluster would at least have to do).

const CONCURRENCY = 8;

async function writeCopies(dir: string, data: Buffer, replicas: number, i: number): Promise<void> {
  for (let r = 0; r < replicas; r++) {
    const fh = await open(path.join(dir, `${i}-${r}`), "w");
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
  }
}

async function sizeCase(
  label: string,
  clients: PrismClient[],
  dir: string,
  replicas: number,
  size: number,
  count: number,
): Promise<Row> {
  const make = () => Array.from({ length: count }, () => randomBytes(size));
  const base = make();
  const baseline = await drive(count, CONCURRENCY, (i) => writeCopies(dir, base[i]!, replicas, i));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = make();
  const oose = await drive(count, CONCURRENCY, (i) =>
    clients[i % clients.length]!.upload([{ name: `f${i}.bin`, data: files[i]! }]),
  );
  if (oose.errors > 0) throw new Error(`${label}: ${oose.errors} uploads failed`);
  const perFile = size <= 64 * 1024;
  const value = perFile ? oose.perSecond : (oose.perSecond * mib(size));
  const baseValue = perFile ? baseline.perSecond : baseline.perSecond * mib(size);
  const unit = perFile ? "files/s" : "MiB/s";
  return { what: `${label} (${count} files, c=${CONCURRENCY})`, value: `${fmt(value)} ${unit}`, baseline: `${fmt(baseValue)} ${unit}`, ratio: ratio(value, baseValue) };
}

export async function uploadBench(cluster: LocalCluster, clients: PrismClient[]): Promise<void> {
  const dir = path.join(cluster.dataDir, "bench-baseline");
  mkdirSync(dir, { recursive: true });
  const replicas = cluster.spec.replicas;
  const rows = [
    await sizeCase("4 KiB files", clients, dir, replicas, 4 * 1024, 400),
    await sizeCase("1 MiB files", clients, dir, replicas, 1024 * 1024, 64),
    await sizeCase("64 MiB files", clients, dir, replicas, 64 * 1024 * 1024, 8),
  ];
  rmSync(dir, { recursive: true, force: true });

  // Bulk existence: 100 hashes a request from the prism, against CouchDB range reads of the same hashes.
  const hashes = (
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => clients[0]!.upload([{ name: `e${i}.bin`, data: randomBytes(512) }])),
    )
  ).map((r) => r.files.file!.hash);
  const inventory = nano(cluster.info.couchdb).use("oose-inventory");
  const rounds = 200;
  const raw = await drive(rounds, CONCURRENCY, () =>
    Promise.all(hashes.map((h) => inventory.list({ ...hashRange(h), include_docs: true }))),
  );
  const bulk = await drive(rounds, CONCURRENCY, (i) => clients[i % clients.length]!.detail(hashes));
  const lookups = (r: { perSecond: number }) => r.perSecond * hashes.length;
  rows.push({
    what: `bulk detail, 100 hashes/request (c=${CONCURRENCY}), vs CouchDB range reads`,
    value: `${fmt(lookups(bulk), 0)} lookups/s`,
    baseline: `${fmt(lookups(raw), 0)} lookups/s`,
    ratio: ratio(lookups(bulk), lookups(raw)),
  });
  table(`Upload and existence (replicas=${replicas}; baseline: the same bytes written ${replicas}× with fsync)`, rows);
}

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import nano from "nano";
import type { InventoryDoc } from "../app/core/inventory.js";
import { scrubKey, type ScrubStatus } from "../app/jobs/scrub.js";
import { FAST_HEARTBEAT } from "../test/helpers/fault.js";
import type { PrismClient } from "../packages/client/src/index.js";
import type { LocalCluster } from "../infra/local/cluster.js";
import { drive, fmt, mib, type Row, ratio, table, withBenchCluster, wrkAsync } from "./lib.js";

// Healing and scrubbing, each on its own fresh cluster (2 prisms, 4 stores):
// - heal: a store holding ~2,000 files dies for good; how fast the heal job
//   brings every file back to 2 live copies, and the time from the kill;
// - scrub: the rate at the default throttle, and what it costs 4 KiB
//   deliveries (302s with the scrub running, against the heal cluster's
//   302s with no scrub, in the same run). Heal and repair intervals are
//   shortened (heal every 1 s, a store lost 3 s after it stops answering).

const FILE = 64 * 1024;
const FILES = 4000;

async function fill(clients: PrismClient[], count: number, size = FILE): Promise<void> {
  const r = await drive(count, 8, (i) => clients[i % clients.length]!.upload([{ name: `h${i}.bin`, data: randomBytes(size) }]));
  if (r.errors > 0) throw new Error(`${r.errors} uploads failed`);
}

/** Hashes with fewer than 2 copies on stores other than `lost`. */
async function short(cluster: LocalCluster, lost: string): Promise<number> {
  const rows = (await nano(cluster.info.couchdb).use<InventoryDoc>("oose-inventory").list({ include_docs: true })).rows;
  const held = new Map<string, number>();
  for (const r of rows) {
    const d = r.doc as InventoryDoc | undefined;
    if (!d?.hash || d.store === lost) continue;
    held.set(d.hash, (held.get(d.hash) ?? 0) + 1);
  }
  return [...held.values()].filter((n) => n < 2).length;
}

async function deliveryRate(cluster: LocalCluster, client: PrismClient) {
  const up = await client.upload([{ name: "d.bin", data: randomBytes(4096) }]);
  const { token } = await client.purchase({ hash: up.files.file!.hash, ext: "bin", referrer: [], life: 3_600_000 });
  return wrkAsync(`${cluster.info.prisms[0]!.url}/${token}/d.bin`, { connections: 32, seconds: 8 });
}

export async function healBench(): Promise<void> {
  const rows: Row[] = [];
  // Heal on its own: repair off, a store counts as lost 3 s after it stops answering.
  const baseline302 = await withBenchCluster(
    (n) => ({
      OOSE_PURCHASE__SIGNED_URL_LIFE: "3600000",
      ...FAST_HEARTBEAT,
      OOSE_REPAIR__ENABLED: "false",
      OOSE_SCRUB__ENABLED: "false",
      ...(n.role === "prism" ? { OOSE_HEAL__INTERVAL: "1000", OOSE_HEAL__GRACE: "0" } : {}),
    }),
    async (cluster, clients) => {
      const alone = await deliveryRate(cluster, clients[0]!);
      await fill(clients, FILES);
      const lost = cluster.info.stores[0]!.name;
      cluster.kill(lost);
      cluster.kill(`nginx-${lost}`);
      const killed = performance.now();
      let first: number | undefined;
      const startShort = await short(cluster, lost);
      for (;;) {
        const n = await short(cluster, lost);
        if (first === undefined && n < startShort) first = performance.now();
        if (n === 0) break;
        if (performance.now() - killed > 600_000) throw new Error(`heal: ${n} files still short after 10 min`);
        await new Promise((r) => setTimeout(r, 2000));
      }
      const done = performance.now();
      const healed = startShort;
      const secs = (done - (first ?? killed)) / 1000;
      rows.push({
        what: `heal after a store holding ${fmt(healed, 0)} of ${FILES} files (64 KiB) is lost`,
        value: `${fmt(healed / secs, 0)} files/s, ${fmt(mib(healed * FILE) / secs)} MiB/s`,
        baseline: `every file at 2 copies ${fmt((done - killed) / 1000)} s after the kill`,
        ratio: "",
      });
      return alone;
    },
  );
  await withBenchCluster(
    (n): Record<string, string> =>
      n.role === "store"
        ? { OOSE_SCRUB__CADENCE: "1", OOSE_SCRUB__INTERVAL: "1000" }
        : { OOSE_PURCHASE__SIGNED_URL_LIFE: "3600000", OOSE_HEAL__ENABLED: "false", OOSE_REPAIR__ENABLED: "false" },
    async (cluster, clients) => {
      // ~400 MiB a store: a pass at 20 MiB/s outlasts the measurement.
      await fill(clients, 200, 4 * 1024 ** 2);
      const redis = new Redis({ sentinels: cluster.info.redis.sentinels, name: cluster.info.redis.name, lazyConnect: true });
      try {
        const bytes = async () => {
          let sum = 0;
          for (const s of cluster.info.stores) {
            const st = JSON.parse((await redis.get(scrubKey("oose", s.name))) ?? "null") as ScrubStatus | null;
            sum += st?.total.bytes ?? 0;
          }
          return sum;
        };
        const b0 = await bytes();
        const t0 = performance.now();
        const beside = await deliveryRate(cluster, clients[0]!);
        const rate = ((await bytes()) - b0) / ((performance.now() - t0) / 1000);
        rows.push({
          what: "scrub at its default throttle (4 stores, 20 MiB/s each)",
          value: `${fmt(mib(rate))} MiB/s over 4 stores`,
          baseline: "",
          ratio: "",
        });
        rows.push({
          what: "302s for 4 KiB purchases (wrk, c=32) while every store scrubs, vs no scrub",
          value: `${fmt(beside.requestsPerSecond, 0)} req/s, p99 ${fmt(beside.p99ms, 1)} ms`,
          baseline: `${fmt(baseline302.requestsPerSecond, 0)} req/s, p99 ${fmt(baseline302.p99ms, 1)} ms`,
          ratio: ratio(beside.requestsPerSecond, baseline302.requestsPerSecond),
        });
      } finally {
        redis.disconnect();
      }
    },
  );
  table("Heal and scrub", rows);
}

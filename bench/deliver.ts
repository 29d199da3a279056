import { randomBytes } from "node:crypto";
import path from "node:path";
import { Agent, request } from "undici";
import type { PrismClient } from "../packages/client/src/index.js";
import type { LocalCluster } from "../infra/local/cluster.js";
import { freePort } from "../infra/local/proc.js";
import { startNginx } from "../infra/local/services.js";
import { renderNginx } from "../nginx/common.js";
import { drive, fmt, mib, type Row, ratio, table, wrk } from "./lib.js";

// The hot path: 302s from GET /<token>/<file>, small-file fetches end to end,
// large-file bytes through a signed URL, and purchase creation — each against
// nginx doing the bare equivalent on the same machine in the same run — and
// what metrics cost the 302s, against the same prism with them off.

/** Seconds per wrk run; BENCH_SECONDS=1 just checks the suite runs. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 64;

async function bareNginx(cluster: LocalCluster) {
  const port = await freePort();
  const prefix = path.join(cluster.dataDir, "nginx", "bench-baseline");
  const proc = await startNginx({
    name: "nginx-bench",
    prefix,
    conf: renderNginx({
      // One process: on 2 cores, where wrk takes one, nginx answers more this way than with a worker per core.
      workerProcesses: 1,
      http: "",
      servers: `server {\n  listen 127.0.0.1:${port};\n  location = /r { return 302 http://127.0.0.1/elsewhere; }\n  location / { return 204; }\n}`,
    }),
    logDir: cluster.logDir,
    readyUrl: `http://127.0.0.1:${port}/`,
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.stop() };
}

/**
 * 302s per second on one prism with metrics on, off, then on again (restarted each time, then warmed up), as
 * the mean of the two "on" runs over the "off" one, so drift over the run favours neither.
 */
async function metricsCost(cluster: LocalCluster, deliver: string): Promise<Row> {
  const prism = cluster.info.prisms[0]!.name;
  const rate = async (enabled: boolean) => {
    cluster.env[prism]!.OOSE_METRICS__ENABLED = String(enabled);
    await cluster.restart(prism);
    wrk(deliver, { connections: CONNECTIONS, seconds: Math.max(1, Math.ceil(SECONDS / 4)) });
    const r = wrk(deliver, { connections: CONNECTIONS, seconds: SECONDS });
    if (r.non2xx3xx > 0 || r.errors > 0)
      throw new Error(`metrics ${enabled}: ${r.non2xx3xx} bad answers, ${r.errors} errors`);
    return r.requestsPerSecond;
  };
  const first = await rate(true);
  const off = await rate(false);
  const on = (first + (await rate(true))) / 2;
  return {
    what: `302s with metrics on vs off (wrk, c=${CONNECTIONS}, same prism, on/off/on; target ≥ 0.95×)`,
    value: `${fmt(on, 0)} req/s`,
    baseline: `${fmt(off, 0)} req/s`,
    ratio: ratio(on, off),
  };
}

/** Uploads one file, buys it for an hour, and returns the deliver URL, a signed link and the unsigned /static URL. */
async function stage(cluster: LocalCluster, client: PrismClient, size: number) {
  const up = await client.upload([{ name: `bench-${size}.bin`, data: randomBytes(size) }]);
  const hash = up.files.file!.hash;
  const { token } = await client.purchase({ hash, ext: "bin", referrer: [], life: 3_600_000 });
  const deliver = `${cluster.info.prisms[0]!.url}/${token}/bench.bin`;
  const signed = await client.locate(`/${token}/bench.bin`);
  const staticUrl = await client.locate(client.staticUrl(hash, "bench.bin"));
  // The same store for both, so only the signature check differs.
  const sameStore = new URL(signed).origin;
  return { deliver, signed, static: `${sameStore}${new URL(staticUrl).pathname}` };
}

export async function deliverBench(cluster: LocalCluster, client: PrismClient): Promise<void> {
  const rows: Row[] = [];
  const bare = await bareNginx(cluster);
  try {
    const small = await stage(cluster, client, 4 * 1024);

    const base302 = wrk(`${bare.url}/r`, { connections: CONNECTIONS, seconds: SECONDS });
    const oose302 = wrk(small.deliver, { connections: CONNECTIONS, seconds: SECONDS });
    if (oose302.non2xx3xx > 0 || oose302.errors > 0) throw new Error(`deliver: ${oose302.non2xx3xx} bad answers, ${oose302.errors} errors`);
    rows.push({
      what: `302 for GET /<token>/<file> (wrk, c=${CONNECTIONS}) vs nginx return 302`,
      value: `${fmt(oose302.requestsPerSecond, 0)} req/s, p99 ${fmt(oose302.p99ms, 2)} ms`,
      baseline: `${fmt(base302.requestsPerSecond, 0)} req/s, p99 ${fmt(base302.p99ms, 2)} ms`,
      ratio: ratio(oose302.requestsPerSecond, base302.requestsPerSecond),
    });
    rows.push(await metricsCost(cluster, small.deliver));

    // End to end, driven from Node for both: the 302 plus the store GET, against one GET of the same file.
    const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
    const fetchBody = async (url: string) => {
      const res = await request(url, { dispatcher: agent });
      await res.body.arrayBuffer();
      return res;
    };
    const e2e = async () => {
      const hop = await request(small.deliver, { dispatcher: agent });
      await hop.body.dump();
      const res = await fetchBody(String(hop.headers.location));
      if (res.statusCode !== 200) throw new Error(`store answered ${res.statusCode}`);
    };
    const direct = async () => {
      const res = await fetchBody(small.static);
      if (res.statusCode !== 200) throw new Error(`nginx answered ${res.statusCode}`);
    };
    const n = 6000;
    const baseE2e = await drive(n, 32, direct);
    const ooseE2e = await drive(n, 32, e2e);
    await agent.close();
    rows.push({
      what: "4 KiB fetch end to end (302 + store GET, c=32) vs nginx serving the file",
      value: `${fmt(ooseE2e.perSecond, 0)} fetch/s (errors ${ooseE2e.errors})`,
      baseline: `${fmt(baseE2e.perSecond, 0)} fetch/s`,
      ratio: ratio(ooseE2e.perSecond, baseE2e.perSecond),
    });

    for (const size of [1024 * 1024, 64 * 1024 * 1024]) {
      const big = await stage(cluster, client, size);
      const plain = wrk(big.static, { connections: 4, seconds: SECONDS });
      const signed = wrk(big.signed, { connections: 4, seconds: SECONDS });
      for (const r of [plain, signed]) if (r.non2xx3xx > 0 || r.errors > 0) throw new Error(`large file: ${r.non2xx3xx} bad answers`);
      rows.push({
        what: `${fmt(mib(size), 0)} MiB through a signed URL (wrk, c=4) vs unsigned`,
        value: `${fmt(mib(signed.bytesPerSecond), 0)} MiB/s`,
        baseline: `${fmt(mib(plain.bytesPerSecond), 0)} MiB/s`,
        ratio: ratio(signed.bytesPerSecond, plain.bytesPerSecond),
      });
    }

    const hash = (await client.upload([{ name: "p.bin", data: randomBytes(64) }])).files.file!.hash;
    const buy = () => client.purchase({ hash, ext: "bin", referrer: ["example.com"] });
    // Both paths warm up first (JIT, connections), so the figures are the steady state, not a fresh process's first second.
    await drive(2000, 8, buy);
    await drive(2000, 8, () => client.validate());
    const purchases = await drive(5000, 8, buy);
    const ping = await drive(5000, 8, () => client.validate());
    rows.push({
      what: "purchase creations (c=8, WAIT for 1 replica, after a warm-up) vs session validation",
      value: `${fmt(purchases.perSecond, 0)}/s, p99 ${fmt(purchases.p99, 2)} ms`,
      baseline: `${fmt(ping.perSecond, 0)}/s, p99 ${fmt(ping.p99, 2)} ms`,
      ratio: ratio(purchases.perSecond, ping.perSecond),
    });
  } finally {
    await bare.stop();
  }
  table("Delivery (baseline: nginx on the same machine, same run)", rows);
}

import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PrismClient } from "../packages/client/src/index.js";
import { type ClusterNode, defaultSpec } from "../app/topology/model.js";
import { type LocalCluster, startCluster } from "../infra/local/cluster.js";
import { freeBlock } from "../test/helpers/cluster.js";

// Small measuring tools shared by the benchmark suites. Every figure is printed
// next to a baseline measured in the same run, as a ratio.

export interface Rate {
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** Runs `fn` `count` times with `concurrency` workers; latencies in ms. */
export async function drive(count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<Rate> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const t0 = performance.now();
      try {
        await fn(i);
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { count, seconds, perSecond: latencies.length / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), errors };
}

export interface WrkResult {
  requestsPerSecond: number;
  bytesPerSecond: number;
  p99ms: number;
  non2xx3xx: number;
  errors: number;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
const toMs = (v: string) => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
};

function wrkArgs(url: string, o: WrkOptions): string[] {
  const args = ["-t", String(o.threads ?? 1), "-c", String(o.connections), "-d", `${o.seconds}s`, "--latency", "--timeout", "5s"];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push("-H", `${k}: ${v}`);
  return [...args, url];
}

interface WrkOptions {
  connections: number;
  seconds: number;
  threads?: number;
  headers?: Record<string, string>;
}

function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(out);
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1] ?? "";
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSecond: rps,
    bytesPerSecond: transfer ? Number(transfer[1]) * UNITS[transfer[2]!]! : 0,
    p99ms: toMs(p99),
    non2xx3xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** Drives a URL with wrk (C, so the load tool does not starve the server of CPU). */
export function wrk(url: string, o: WrkOptions): WrkResult {
  const res = spawnSync("wrk", wrkArgs(url, o), { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`wrk failed: ${res.stderr || res.error?.message}`);
  return parseWrk(res.stdout);
}

/** wrk without blocking this process, so other load can run beside it. */
export function wrkAsync(url: string, o: WrkOptions): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", wrkArgs(url, o), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk failed: ${err}`))));
  });
}

/** CPU seconds a process has used so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds the whole machine has spent busy so far. */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return (ticks.slice(0, 8).reduce((a, b) => a + b, 0) - idle) / 100;
}

export const mib = (bytes: number) => bytes / 1024 ** 2;
export const fmt = (n: number, digits = 1) => n.toLocaleString("en-US", { maximumFractionDigits: digits });
export const ratio = (value: number, baseline: number) => (baseline > 0 ? `${(value / baseline).toFixed(2)}×` : "n/a");

export interface Row {
  what: string;
  value: string;
  baseline: string;
  ratio: string;
}

export function table(title: string, rows: Row[]): void {
  console.log(`\n## ${title}\n`);
  console.log("| measure | OOSE | baseline | ratio |\n|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.what} | ${r.value} | ${r.baseline} | ${r.ratio} |`);
}

/**
 * A fresh local cluster (2 prisms, 4 stores) over plain HTTP, like the nginx baselines, with no request or
 * bandwidth shaping; `work` gets it and a logged-in client per prism, and the cluster is gone afterwards.
 */
export async function withBenchCluster<T>(
  env: (n: ClusterNode) => Record<string, string>,
  work: (c: LocalCluster, clients: PrismClient[]) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "oose-bench-"));
  // nginx workers run as nobody when the bench runs as root; they must reach the content dirs.
  chmodSync(dataDir, 0o755);
  const cluster = await startCluster({
    spec: defaultSpec(2, 2, 2),
    basePort: await freeBlock(),
    dataDir,
    logDir: path.join(dataDir, "logs"),
    persist: false,
    http: true,
    storeRate: { requestsPerSecond: 1_000_000, burst: 1_000_000, bytesPerSecond: 1024 ** 4 },
    extraEnv: (n) => ({ OOSE_LOG_LEVEL: "warn", ...env(n) }),
  });
  try {
    const clients = await Promise.all(
      cluster.info.prisms.map(async (p) => {
        const c = new PrismClient({ baseUrl: p.url, timeoutMs: 120_000 });
        await c.login(cluster.info.admin.username, cluster.info.admin.password);
        return c;
      }),
    );
    return await work(cluster, clients);
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestFn } from "ava";
import { Agent, setGlobalDispatcher } from "undici";
import { trustNodeCa } from "../../app/client/http.js";
import type { ClusterNode } from "../../app/topology/model.js";
import { defaultSpec } from "../../app/topology/model.js";
import { BLOCK_SIZE } from "../../infra/local/addressing.js";
import { type LocalCluster, type StartOptions, startCluster } from "../../infra/local/cluster.js";
import { portFree } from "../../infra/local/proc.js";

// Integration tests run a real cluster (Redis HA, the CouchDB stand-in, nginx,
// prisms and stores as processes) on a random free port block in a temp dir.
// The node APIs speak HTTPS, as users get them; this process trusts the
// cluster CA (undici's global dispatcher, which fetch uses too, and the typed
// clients' agent), never by switching verification off.

export interface TestClusterOptions {
  prisms?: number;
  storesPerPrism?: number;
  replicas?: number;
  extraEnv?: (node: ClusterNode) => Record<string, string>;
  /** Plain HTTP on the node APIs and the front. */
  http?: boolean;
  /** The cluster's own CA and certificates here (default: one set shared by every test cluster of this user). */
  tlsDir?: string;
  /** Keep the CouchDB stand-in's data on disk, so it survives a restart (default: in memory). */
  persist?: boolean;
  /** The store nginx request and bandwidth limits (default: production's). */
  storeRate?: StartOptions["storeRate"];
}

/** Certificates take seconds to make; test clusters share one CA, made once and reused across runs. */
export const SHARED_TLS_DIR = path.join(os.tmpdir(), `oose-test-tls-${process.getuid?.() ?? "user"}`);

const trusted = new Set<string>();

/** Makes this process trust a cluster CA for every request: fetch, undici and the typed clients. */
export function trustClusterCa(caFile: string): void {
  const pem = readFileSync(caFile, "utf8");
  if (trusted.has(pem)) return;
  trusted.add(pem);
  const ca = [...trusted];
  setGlobalDispatcher(new Agent({ connect: { ca } }));
  trustNodeCa(ca);
}

export interface TestCluster extends LocalCluster {
  prismAuth(): { authorization: string };
  storeAuth(): { authorization: string };
  /** Every log file of the cluster (process output and nginx error logs), each under a header. */
  logs(): string;
}

const basic = (c: { username: string; password: string }) => ({
  authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`,
});

/** The kernel's ephemeral range: outgoing connections take ports from it, so a cluster stays out of it. */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (lo && hi) return [lo, hi];
  } catch {
    // not Linux: assume the IANA range
  }
  return [49152, 65535];
}

/**
 * Test files run in parallel processes, and a block that is free now may be
 * taken by another file's cluster a second later: a block is claimed with a
 * lock file (kept until this process exits; a dead owner's claim is taken over).
 */
function claim(base: number): boolean {
  const file = path.join(os.tmpdir(), `oose-ports-${base}.lock`);
  try {
    writeFileSync(file, String(process.pid), { flag: "wx" });
  } catch {
    const owner = Number(readFileSync(file, "utf8"));
    try {
      if (owner) process.kill(owner, 0);
      return false;
    } catch {
      rmSync(file, { force: true }); // the owner is gone
      return claim(base);
    }
  }
  process.once("exit", () => rmSync(file, { force: true }));
  return true;
}

/** A random base port in 20000–60000 whose whole block is free and claimed (and outside the ephemeral range). */
export async function freeBlock(attempts = 50): Promise<number> {
  const [lo, hi] = ephemeralRange();
  for (let i = 0; i < attempts; i++) {
    const base = 20000 + BLOCK_SIZE * Math.floor((Math.random() * (60000 - 20000)) / BLOCK_SIZE);
    if (base + BLOCK_SIZE > lo && base <= hi) continue;
    const ports = Array.from({ length: BLOCK_SIZE }, (_, k) => base + k);
    if ((await Promise.all(ports.map((p) => portFree(p)))).every(Boolean) && claim(base)) return base;
  }
  throw new Error(`no free block of ${BLOCK_SIZE} ports found in ${attempts} attempts`);
}

function readLogs(dataDir: string, logDir: string): string {
  const files = existsSync(logDir) ? readdirSync(logDir).map((f) => path.join(logDir, f)) : [];
  const nginxDir = path.join(dataDir, "nginx");
  if (existsSync(nginxDir))
    files.push(...readdirSync(nginxDir).map((n) => path.join(nginxDir, n, "logs", "error.log")));
  return files
    .filter((f) => existsSync(f))
    .map((f) => `==> ${path.relative(dataDir, f)} <==\n${readFileSync(f, "utf8")}`)
    .join("\n");
}

/** Anything still running when the test process exits gets a TERM (nginx masters must not be KILLed: workers would outlive them). */
const live = new Set<LocalCluster>();
process.once("exit", () => {
  for (const c of live) for (const p of Object.values(c.procs)) if (p.child.exitCode === null) p.child.kill("SIGTERM");
});

export async function startTestCluster(o: TestClusterOptions = {}): Promise<TestCluster> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "oose-test-"));
  // nginx workers run as nobody when the tests run as root; they must reach the content dirs.
  chmodSync(dataDir, 0o755);
  const logDir = path.join(dataDir, "logs");
  let cluster: LocalCluster;
  try {
    cluster = await startCluster({
      spec: defaultSpec(o.prisms ?? 2, o.storesPerPrism ?? 2, o.replicas ?? 2),
      basePort: await freeBlock(),
      dataDir,
      logDir,
      persist: o.persist ?? false,
      storeRate: o.storeRate,
      extraEnv: o.extraEnv,
      http: o.http,
      tlsDir: o.tlsDir ?? SHARED_TLS_DIR,
    });
  } catch (err) {
    throw new Error(`test cluster did not start (logs kept in ${logDir}): ${(err as Error).message}`);
  }
  live.add(cluster);
  if (cluster.info.ca) trustClusterCa(cluster.info.ca);
  const stop = cluster.stop;
  return Object.assign(cluster, {
    stop: async () => {
      await stop();
      live.delete(cluster);
    },
    prismAuth: () => basic(cluster.info.prismAuth),
    storeAuth: () => basic(cluster.info.storeAuth),
    logs: () => readLogs(dataDir, logDir),
  });
}

/**
 * One cluster for a test file: started before the first test (and before the
 * file's own before hooks), stopped after the last. If any test failed the data and logs are kept and their path is
 * printed; otherwise the temp dir is removed.
 */
export function useCluster<C>(test: TestFn<C>, opts: TestClusterOptions = {}): () => TestCluster {
  let cluster: TestCluster | undefined;
  let failed = false;
  // Serial, so the file's own before hooks (which ava otherwise runs concurrently) see a running cluster.
  test.serial.before(async () => {
    cluster = await startTestCluster(opts);
  });
  test.afterEach.always((t) => {
    if (!t.passed) failed = true;
  });
  test.after.always(async () => {
    if (!cluster) return;
    await cluster.stop();
    if (failed) console.error(`\ntest cluster logs kept in ${cluster.logDir}\n`);
    else rmSync(cluster.dataDir, { recursive: true, force: true });
  });
  return () => {
    if (!cluster) throw new Error("the test cluster is not running (did test.before fail?)");
    return cluster;
  };
}

import { mkdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Agent, request } from "undici";
import { type Credentials, loadConfig } from "../../app/config.js";
import { type Endpoint, nodeEnv } from "../../app/topology/env.js";
import { type ClusterNode, type ClusterSpec, checkSpec, nodesOf } from "../../app/topology/model.js";
import type { StoreNginxOptions } from "../../nginx/store.js";
import { HOST, localAddressing, neededPorts } from "./addressing.js";
import { bootstrapCouch, migrateUp } from "./bootstrap.js";
import { startFrontNginx, startStoreNginx } from "./nginx.js";
import { ensureClusterPki, pkiPaths } from "./pki.js";
import { type Proc, portFree, startProc, waitFor } from "./proc.js";
import { loadOrCreateSecrets } from "./secrets.js";
import { appArgs, startCouch, startRedisHa } from "./services.js";

// The whole topology as local processes: services, stores, prisms, then the
// nginx in front of each. Everything is stopped by pid, in reverse order.

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const READY_MS = 30_000;

export interface StartOptions {
  spec: ClusterSpec;
  basePort: number;
  dataDir: string;
  logDir: string;
  /** Wipe dataDir first. */
  fresh?: boolean;
  /** Use this CouchDB instead of starting the stand-in (default: env COUCHDB_URL). */
  couchdbUrl?: string;
  /** Keep the stand-in's data under <dataDir>/couchdb (default true). */
  persist?: boolean;
  extraEnv?: (node: ClusterNode) => Record<string, string>;
  /** Plain HTTP on the node APIs and the front nginx (default: HTTPS with the cluster CA). */
  http?: boolean;
  /** Where the CA and node certificates live (default <dataDir>/tls); created on first start, then reused. */
  tlsDir?: string;
  /** Store nginx request and bandwidth limits (benchmarks lift them). */
  storeRate?: StoreNginxOptions["rate"];
}

/** The cluster.json shape. */
export interface ClusterInfo {
  /** Every URL carries its scheme: https for the node APIs and the front, unless started with --http. */
  prisms: { name: string; url: string }[];
  stores: { name: string; prism: string; zone: string; url: string; public: string }[];
  front: string | null;
  /** The cluster CA's certificate (PEM file) that node certificates are checked against; null over HTTP. */
  ca: string | null;
  couchdb: string;
  redis: { sentinels: Endpoint[]; name: string };
  admin: Credentials;
  prismAuth: Credentials;
  storeAuth: Credentials;
}

export interface LocalCluster {
  info: ClusterInfo;
  spec: ClusterSpec;
  dataDir: string;
  logDir: string;
  /** Every running process by name: couchdb, redis-*, prism1…, store1…, nginx-<store>, nginx-front. */
  procs: Record<string, Proc>;
  /** The OOSE_* environment each node was started with. */
  env: Record<string, Record<string, string>>;
  stop(): Promise<void>;
  kill(name: string, signal?: NodeJS.Signals): void;
  /** Stops (if running) and re-spawns one process with the same command and env; resolves when it is ready. */
  restart(name: string): Promise<Proc>;
}

/** Waits for `check`, but gives up at once if the process exits first. */
async function untilReady(proc: Proc, check: () => Promise<boolean>): Promise<void> {
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  await waitFor(proc.name, async () => exited || (await check()), READY_MS, 150);
  if (exited) throw new Error(`${proc.name} exited before it was ready; see ${proc.logFile}`);
}

function wipe(dir: string): void {
  const abs = path.resolve(dir);
  if ([path.parse(abs).root, os.homedir(), process.cwd(), ROOT].includes(abs))
    throw new Error(`refusing to wipe ${abs}; pick a dedicated data directory`);
  rmSync(abs, { recursive: true, force: true });
}

/** The environment a node process gets: ours minus any OOSE_* (so nothing leaks in), plus its own. */
function processEnv(own: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OOSE_")));
  return { ...base, OOSE_LOG_LEVEL: process.env.OOSE_LOG_LEVEL ?? "info", ...own };
}

export async function startCluster(o: StartOptions): Promise<LocalCluster> {
  // Debian keeps nginx in /usr/sbin, which a normal user's PATH often lacks.
  const paths = (process.env.PATH ?? "").split(path.delimiter);
  if (!paths.includes("/usr/sbin")) process.env.PATH = [...paths, "/usr/sbin"].filter(Boolean).join(path.delimiter);
  const problems = checkSpec(o.spec);
  if (problems.length > 0) throw new Error(`bad cluster spec:\n  ${problems.join("\n  ")}`);
  const externalCouch = o.couchdbUrl || process.env.COUCHDB_URL || undefined;
  const tlsFiles = o.http ? undefined : pkiPaths(path.resolve(o.tlsDir ?? path.join(o.dataDir, "tls")));
  const at = localAddressing(o.spec, o.basePort, o.dataDir, externalCouch, tlsFiles);
  const { ports } = at;

  const needed = neededPorts(o.spec, ports, !externalCouch);
  const taken = (
    await Promise.all(needed.map(async ([p, what]) => ((await portFree(p, HOST)) ? "" : `${p} (${what})`)))
  ).filter(Boolean);
  if (taken.length > 0)
    throw new Error(`ports already in use: ${taken.join(", ")}; stop what holds them or pick another --base-port`);

  if (o.fresh) wipe(o.dataDir);
  mkdirSync(o.dataDir, { recursive: true });
  const secrets = loadOrCreateSecrets(o.dataDir);
  // The CA and a certificate per node (and the front nginx) on first start; kept afterwards.
  const pki =
    tlsFiles && (await ensureClusterPki(tlsFiles.dir, [...nodesOf(o.spec).map((n) => n.name), "nginx-front"]));
  const caPem = pki && readFileSync(pki.ca, "utf8");
  // Health checks reach the nodes as their peers do: verified against the cluster CA.
  const checks = new Agent({ connect: caPem ? { ca: caPem } : {} });
  const apiOk = async (url: string) => {
    const res = await request(url, { dispatcher: checks, signal: AbortSignal.timeout(1000) });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 300;
  };
  const env: Record<string, Record<string, string>> = {};
  for (const node of nodesOf(o.spec)) {
    env[node.name] = nodeEnv(o.spec, node, at, secrets, o.extraEnv?.(node) ?? {});
    loadConfig(env[node.name]); // a bad env fails here, before anything runs
  }

  const procs: Record<string, Proc> = {};
  const groups: string[][] = []; // start order; stopped in reverse
  const add = (group: Proc[]) => {
    for (const p of group) procs[p.name] = p;
    groups.push(group.map((p) => p.name));
  };
  // Whatever of a batch came up is recorded (so stop() finds it) before a failure is rethrown.
  const settle = async <T>(batch: Promise<T>[], keep: (v: T) => void) => {
    const results = await Promise.allSettled(batch);
    for (const r of results) if (r.status === "fulfilled") keep(r.value);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  };

  const servicePort = new Map<string, number>([
    ["couchdb", ports.couchdb],
    ["redis-primary", ports.redisPrimary],
    ...ports.redisReplicas.map((p, i) => [`redis-replica${i + 1}`, p] as const),
    ...ports.sentinels.map((p, i) => [`redis-sentinel${i + 1}`, p] as const),
    ...[...ports.storeNginx].map(([n, p]) => [`nginx-${n}`, p] as const),
    ["nginx-front", ports.front],
  ]);
  const nodes = new Map(nodesOf(o.spec).map((n) => [n.name, n]));
  const isReady = (name: string) => async () => {
    const node = nodes.get(name);
    if (node) return apiOk(`${at.api(node).advertiseUrl}/healthz`);
    return !(await portFree(servicePort.get(name)!, HOST));
  };

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      for (const group of [...groups].reverse())
        await Promise.all(group.map((name) => procs[name]?.stop().catch(() => undefined)));
      await checks.close();
    })();
    return stopped;
  };

  const startNode = async (node: ClusterNode): Promise<void> => {
    mkdirSync(at.dataRoot(node), { recursive: true });
    const p = startProc(node.name, process.execPath, appArgs("main"), {
      logDir: o.logDir,
      env: processEnv(env[node.name]!),
      cwd: ROOT,
    });
    procs[node.name] = p;
    await untilReady(p, isReady(node.name));
  };

  const storeNginx = (s: ClusterNode) =>
    startStoreNginx({
      config: loadConfig(env[s.name]),
      port: ports.storeNginx.get(s.name)!,
      publicUrl: at.publicUrl(s)!,
      dataDir: o.dataDir,
      logDir: o.logDir,
      rate: o.storeRate,
    });
  const frontUrl = `${pki ? "https" : "http"}://${HOST}:${ports.front}`;
  const frontNginx = () =>
    startFrontNginx({
      port: ports.front,
      url: frontUrl,
      prisms: [...nodes.values()].filter((n) => n.role === "prism").map((n) => at.api(n).listen),
      dataDir: o.dataDir,
      logDir: o.logDir,
      pki,
      caPem,
    });

  try {
    const couch = externalCouch
      ? []
      : [
          startCouch({
            port: ports.couchdb,
            dataDir: o.persist === false ? undefined : path.join(o.dataDir, "couchdb"),
            logDir: o.logDir,
          }),
        ];
    const redis = startRedisHa({
      primaryPort: ports.redisPrimary,
      replicaPorts: ports.redisReplicas,
      sentinelPorts: ports.sentinels,
      name: o.spec.redis.name,
      dir: path.join(o.dataDir, "redis"),
      logDir: o.logDir,
    });
    let quorum: Promise<void> = Promise.resolve();
    await settle<Proc | Awaited<typeof redis>>([...couch, redis], (v) => {
      if ("sentinels" in v) {
        quorum = v.quorum;
        add([v.primary]);
        add(v.replicas);
        add(v.sentinels);
      } else add([v]);
    });
    await bootstrapCouch(loadConfig(env[o.spec.prisms[0]!.name]).couchdb, secrets.admin);
    await migrateUp(processEnv(env[o.spec.prisms[0]!.name]!), o.logDir, 4 * READY_MS);

    for (const role of ["store", "prism"] as const) {
      const group = [...nodes.values()].filter((n) => n.role === role);
      groups.push(group.map((n) => n.name));
      await settle(group.map(startNode), () => undefined);
    }
    const stores = [...nodes.values()].filter((n) => n.role === "store");
    await settle([...stores.map(storeNginx), ...(o.spec.front ? [frontNginx()] : [])], (p) => add([p]));
    await quorum;
  } catch (err) {
    await stop();
    throw err;
  }

  const info: ClusterInfo = {
    prisms: o.spec.prisms.map((p) => ({ name: p.name, url: at.api(nodes.get(p.name)!).advertiseUrl })),
    stores: o.spec.stores.map((s) => ({
      name: s.name,
      prism: s.prism,
      zone: s.zone,
      url: at.api(nodes.get(s.name)!).advertiseUrl,
      public: at.publicUrl(nodes.get(s.name)!)!,
    })),
    front: o.spec.front ? frontUrl : null,
    ca: pki?.ca ?? null,
    couchdb: at.couchdbUrl,
    redis: { sentinels: at.redis.sentinels ?? [], name: o.spec.redis.name },
    admin: secrets.admin,
    prismAuth: secrets.prismAuth,
    storeAuth: secrets.storeAuth,
  };

  return {
    info,
    spec: o.spec,
    dataDir: o.dataDir,
    logDir: o.logDir,
    procs,
    env,
    stop,
    kill(name, signal = "SIGKILL") {
      const p = procs[name];
      if (!p) throw new Error(`no process named ${name}`);
      process.kill(p.pid, signal);
    },
    async restart(name) {
      const old = procs[name];
      if (!old) throw new Error(`no process named ${name}`);
      await old.stop();
      const own = env[name];
      const p = startProc(name, old.child.spawnfile, old.child.spawnargs.slice(1), {
        logDir: o.logDir,
        env: own ? processEnv(own) : undefined,
        cwd: ROOT,
      });
      procs[name] = p;
      await untilReady(p, isReady(name));
      return p;
    },
  };
}

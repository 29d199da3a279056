import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { Agent, request } from "undici";
import type { Endpoint } from "../../app/topology/env.js";
import { DIST, ensureBuilt } from "../../scripts/build.mjs";
import { redisConf, sentinelConf } from "../redis-conf.js";
import { HOST } from "./addressing.js";
import { httpOk, type Proc, startProc, waitFor } from "./proc.js";

// The backing services of a local cluster: the CouchDB stand-in, Redis primary +
// replica + Sentinels, and nginx. Each returns a Proc the caller stops by pid.

const require = createRequire(import.meta.url);
const tsxLoader = pathToFileURL(require.resolve("tsx")).href;
const here = path.dirname(new URL(import.meta.url).pathname);

/**
 * Node arguments that run a TypeScript script with the tsx loader in the same
 * process (the tsx CLI would fork a grandchild that outlives a SIGKILL by pid).
 */
export function tsxArgs(script: string, ...args: string[]): string[] {
  return ["--import", tsxLoader, script, ...args];
}

/**
 * Node arguments that run the app's compiled `main` (a node) or `cli` (the oose command), as the image does.
 * dist/ is rebuilt first if a source changed since the last build.
 */
export function appArgs(entry: "main" | "cli", ...args: string[]): string[] {
  ensureBuilt();
  return [path.join(DIST, "app", `${entry}.js`), ...args];
}

/** A start that never became ready must not leave its processes behind. */
async function stopOnFailure(procs: Proc[], ready: Promise<void>): Promise<void> {
  try {
    await ready;
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop()));
    throw err;
  }
}

export async function startCouch(o: { port: number; dataDir?: string; logDir: string }): Promise<Proc> {
  const args = tsxArgs(path.join(here, "../couchdb-standin/server.ts"), "--port", String(o.port));
  if (o.dataDir) args.push("--data", o.dataDir);
  const proc = startProc("couchdb", process.execPath, args, { logDir: o.logDir });
  await stopOnFailure(
    [proc],
    waitFor("couchdb", () => httpOk(`http://127.0.0.1:${o.port}/_up`)),
  );
  return proc;
}

export interface RedisHa {
  primary: Proc;
  replicas: Proc[];
  sentinels: Proc[];
  /** Resolves once every Sentinel knows the others, so a failover can be voted. */
  quorum: Promise<void>;
  sentinelEndpoints: Endpoint[];
  name: string;
  primaryPort: number;
}

/**
 * Primary, replicas and Sentinels on loopback, their data kept under `dir` across
 * starts; resolves once Sentinel names the primary and knows its replicas.
 */
export async function startRedisHa(o: {
  primaryPort: number;
  replicaPorts: number[];
  sentinelPorts: number[];
  name: string;
  dir: string;
  logDir: string;
  downAfterMs?: number;
}): Promise<RedisHa> {
  mkdirSync(o.dir, { recursive: true });
  const conf = (file: string, text: string) => {
    const p = path.join(o.dir, file);
    writeFileSync(p, text);
    return p;
  };
  // Each data node keeps its append-only file in its own dir, kept across starts like the deployment's volume.
  const dataDir = (node: string) => {
    const d = path.join(o.dir, node);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const primaryAt = { host: HOST, port: o.primaryPort };
  const procs: Proc[] = [];
  const dataNode = (name: string, file: string, port: number, dir: string, primary?: Endpoint) => {
    const text = redisConf({ port, bind: HOST, dir: dataDir(dir), primary, syncDelaySec: 0 });
    const p = startProc(name, "redis-server", [conf(file, text)], { logDir: o.logDir });
    procs.push(p);
    return p;
  };
  const client = (port: number) => {
    const c = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
    c.on("error", () => undefined);
    return c;
  };
  // In order, each once the one before answers: a Sentinel that asks the primary for its replicas before
  // they attach learns of them only at its next INFO, 10 s later.
  const primary = dataNode("redis-primary", "primary.conf", o.primaryPort, "primary");
  const first = client(o.primaryPort);
  let replicas: Proc[] = [];
  try {
    // A replica that finds no primary tries again a second later.
    await stopOnFailure(
      procs,
      waitFor("redis primary", async () => (await first.ping()) === "PONG", 20_000, 20),
    );
    replicas = o.replicaPorts.map((port, i) =>
      dataNode(`redis-replica${i + 1}`, `replica${i}.conf`, port, `replica${i + 1}`, primaryAt),
    );
    await stopOnFailure(
      procs,
      waitFor(
        "redis replicas in sync",
        async () => (await first.info("replication")).match(/state=online/g)?.length === o.replicaPorts.length,
        20_000,
        50,
      ),
    );
  } finally {
    first.disconnect();
  }
  const quorum = Math.floor(o.sentinelPorts.length / 2) + 1;
  // Sentinel rewrites its config, so each gets a fresh writable file every start.
  const sentinels = o.sentinelPorts.map((port, i) =>
    startProc(
      `redis-sentinel${i + 1}`,
      "redis-sentinel",
      [
        conf(
          `sentinel${i}.conf`,
          sentinelConf({
            port,
            bind: HOST,
            dir: o.dir,
            name: o.name,
            primary: primaryAt,
            quorum,
            downAfterMs: o.downAfterMs ?? 1000,
            failoverTimeoutMs: 5000,
          }),
        ),
      ],
      { logDir: o.logDir },
    ),
  );
  const probe = client(o.sentinelPorts[0]!);
  const master = async () => {
    const info = (await probe.call("SENTINEL", "MASTER", o.name)) as string[];
    return (k: string) => Number(info[info.indexOf(k) + 1]);
  };
  const all = [...procs, ...sentinels];
  try {
    await stopOnFailure(
      all,
      waitFor("redis sentinel", async () => (await master())("num-slaves") >= o.replicaPorts.length, 20_000, 50),
    );
  } catch (err) {
    probe.disconnect();
    throw err;
  }
  // The Sentinels find each other through hellos sent every 2 s: the nodes can start meanwhile.
  const known = stopOnFailure(
    all,
    waitFor(
      "redis sentinels",
      async () => (await master())("num-other-sentinels") >= o.sentinelPorts.length - 1,
      20_000,
      100,
    ),
  ).finally(() => probe.disconnect());
  known.catch(() => undefined);
  return {
    primary,
    replicas,
    sentinels,
    quorum: known,
    name: o.name,
    primaryPort: o.primaryPort,
    sentinelEndpoints: o.sentinelPorts.map((port) => ({ host: HOST, port })),
  };
}

/** nginx with its own prefix dir; `conf` is a full nginx.conf (see nginx/). `ca` verifies an https readyUrl. */
export async function startNginx(o: {
  name: string;
  prefix: string;
  conf: string;
  logDir: string;
  readyUrl: string;
  ca?: string;
}) {
  for (const d of ["conf", "logs", "temp"]) mkdirSync(path.join(o.prefix, d), { recursive: true });
  const file = path.join(o.prefix, "conf", "nginx.conf");
  writeFileSync(file, o.conf);
  const proc = startProc(o.name, "nginx", ["-p", o.prefix, "-c", file, "-g", "daemon off;"], { logDir: o.logDir });
  const agent = o.ca ? new Agent({ connect: { ca: o.ca } }) : undefined;
  await stopOnFailure(
    [proc],
    waitFor(o.name, async () => {
      const res = await request(o.readyUrl, { dispatcher: agent, signal: AbortSignal.timeout(1000) });
      await res.body.dump();
      return true;
    }),
  ).finally(() => agent?.close());
  return proc;
}

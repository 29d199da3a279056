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
  sentinelEndpoints: Endpoint[];
  name: string;
  primaryPort: number;
}

/**
 * Primary, replicas and Sentinels on loopback, their data kept under `dir` across
 * starts; resolves once Sentinel sees the full set (quorum possible).
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
  const dataNode = (name: string, file: string, port: number, dir: string, primary?: Endpoint) =>
    startProc(name, "redis-server", [conf(file, redisConf({ port, bind: HOST, dir: dataDir(dir), primary }))], {
      logDir: o.logDir,
    });
  const primary = dataNode("redis-primary", "primary.conf", o.primaryPort, "primary");
  const replicas = o.replicaPorts.map((port, i) =>
    dataNode(`redis-replica${i + 1}`, `replica${i}.conf`, port, `replica${i + 1}`, primaryAt),
  );
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
  const probe = new Redis({ port: o.sentinelPorts[0], lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on("error", () => undefined);
  try {
    await stopOnFailure(
      [primary, ...replicas, ...sentinels],
      waitFor(
        "redis sentinel",
        async () => {
          const info = (await probe.call("SENTINEL", "MASTER", o.name)) as string[];
          const field = (k: string) => Number(info[info.indexOf(k) + 1]);
          return (
            field("num-other-sentinels") >= o.sentinelPorts.length - 1 && field("num-slaves") >= o.replicaPorts.length
          );
        },
        20_000,
        200,
      ),
    );
  } finally {
    probe.disconnect();
  }
  return {
    primary,
    replicas,
    sentinels,
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

import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { type Couch, openCouch } from "../../app/adapters/couch/index.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import { StoreClient } from "../../app/client/store.js";
import type { PeerDoc } from "../../app/core/peer.js";
import type { Credentials } from "../../app/config.js";
import { nodeEnv } from "../../app/topology/env.js";
import type { ClusterSpec, StoreNode as StoreSpecNode } from "../../app/topology/model.js";
import { freePort, httpOk, type Proc, startProc, waitFor } from "../../infra/local/proc.js";
import { startCouch, appArgs, startNginx } from "../../infra/local/services.js";
import { renderStoreNginx, type StoreNginxOptions } from "../../nginx/store.js";

// One or more real store processes for integration tests: the CouchDB
// stand-in, a plain redis-server, stores started from the compiled app/main with the
// environment nodeEnv gives them in a cluster, and nginx with the store config.

export const STORE_AUTH: Credentials = { username: "store", password: "store-secret" };
export const SIGNING_KEY = "test-signing-key-0123456789";

export interface Backends {
  dir: string;
  logDir: string;
  couchUrl: string;
  redisUrl: string;
  couch: Couch;
  stop(keepLogs?: boolean): Promise<void>;
}

/** Scratch space nginx workers (nobody, when tests run as root) can read. */
function scratchDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "oose-store-"));
  chmodSync(dir, 0o755);
  return dir;
}

export async function startBackends(): Promise<Backends> {
  const dir = scratchDir();
  const logDir = path.join(dir, "logs");
  const procs: Proc[] = [];
  const [couchPort, redisPort] = [await freePort(), await freePort()];
  procs.push(await startCouch({ port: couchPort, logDir }));
  const redisProc = startProc(
    "redis",
    "redis-server",
    ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { logDir },
  );
  procs.push(redisProc);
  const probe = new Redis({ port: redisPort, lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on("error", () => undefined);
  await waitFor("redis", async () => (await probe.ping()) === "PONG").finally(() => probe.disconnect());
  const couchUrl = `http://127.0.0.1:${couchPort}`;
  const couch = openCouch({ url: couchUrl, database: "oose", timeoutMs: 5000 });
  await ensureDatabases(couch);
  return {
    dir,
    logDir,
    couchUrl,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    couch,
    async stop(keepLogs = false) {
      await couch.close();
      for (const p of procs.reverse()) await p.stop();
      if (keepLogs) process.stderr.write(`store test logs kept in ${logDir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StoreNodeOptions {
  name: string;
  prism?: string;
  /** Extra OOSE_* variables, e.g. limits. */
  env?: Record<string, string>;
}

export interface RunningStore {
  name: string;
  prism: string;
  url: string;
  dataRoot: string;
  contentRoot: string;
  tmpDir: string;
  /** Port reserved for this store's nginx (its publicUrl). */
  nginxPort: number;
  client: StoreClient;
  proc: Proc;
  /** Starts the process again with the same env (after stop). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStore(b: Backends, o: StoreNodeOptions): Promise<RunningStore> {
  const prism = o.prism ?? "prism1";
  const [apiPort, nginxPort] = [await freePort(), await freePort()];
  const dataRoot = path.join(b.dir, o.name);
  const node: StoreSpecNode = {
    role: "store",
    name: o.name,
    prism,
    site: "local",
    zone: "zone1",
    host: `host-${o.name}`,
  };
  const spec: ClusterSpec = {
    domain: "localhost",
    replicas: 1,
    prisms: [{ name: prism, site: "local", zone: "zone1", host: "host-prism" }],
    stores: [node],
    redis: { name: "oose", replicas: 0, sentinels: 1 },
    couchdb: { nodes: 1 },
    front: false,
  };
  const url = `http://127.0.0.1:${apiPort}`;
  const env = nodeEnv(
    spec,
    node,
    {
      couchdbUrl: b.couchUrl,
      redis: { url: b.redisUrl },
      api: () => ({ listen: { host: "127.0.0.1", port: apiPort }, advertiseUrl: url }),
      publicUrl: () => `http://127.0.0.1:${nginxPort}`,
      dataRoot: () => dataRoot,
    },
    { prismAuth: { username: "prism", password: "prism-secret" }, storeAuth: STORE_AUTH, signingKey: SIGNING_KEY },
    // Capacity is written once, at start (the readiness signal below). The heartbeat has its
    // own tests; here it would only vote on stores a test stops on purpose.
    { OOSE_HEARTBEAT__CAPACITY_REFRESH: "0", OOSE_HEARTBEAT__ENABLED: "false", ...o.env },
  );
  const peers = b.couch.db<PeerDoc>("peer");
  const launch = async () => {
    const launched = new Date().toISOString();
    const proc = startProc(o.name, process.execPath, appArgs("main"), {
      logDir: b.logDir,
      env: { ...process.env, ...env },
    });
    // Ready once start() is done: it ends with the capacity write, after registration.
    await waitFor(
      o.name,
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`${o.name} exited with ${proc.child.exitCode}`);
        const doc = await peers.get(`store:${prism}:${o.name}`).catch(() => undefined);
        return (doc?.capacity?.at ?? "") >= launched && (await httpOk(`${url}/ping`));
      },
      30_000,
    );
    return proc;
  };
  const store: RunningStore = {
    name: o.name,
    prism,
    url,
    dataRoot,
    contentRoot: path.join(dataRoot, "content"),
    tmpDir: path.join(dataRoot, "tmp"),
    nginxPort,
    client: new StoreClient({ baseUrl: url, auth: STORE_AUTH, timeoutMs: 10_000, name: o.name }),
    proc: await launch(),
    async restart() {
      store.proc = await launch();
    },
    stop: () => store.proc.stop(),
  };
  return store;
}

/** nginx for a store with the rendered config, on the store's reserved port. */
export async function startStoreNginx(
  b: Backends,
  store: RunningStore,
  o: Partial<Pick<StoreNginxOptions, "rate" | "denyStaticTypes">> = {},
): Promise<{ url: string; proc: Proc }> {
  const conf = renderStoreNginx({
    name: store.name,
    listen: { host: "127.0.0.1", port: store.nginxPort },
    contentRoot: store.contentRoot,
    signingKey: SIGNING_KEY,
    denyStaticTypes: o.denyStaticTypes ?? ["mp4", "mp3", "mkv", "webm"],
    rate: o.rate,
  });
  const url = `http://127.0.0.1:${store.nginxPort}`;
  const proc = await startNginx({
    name: `nginx-${store.name}`,
    prefix: path.join(b.dir, `nginx-${store.name}`),
    conf,
    logDir: b.logDir,
    readyUrl: `${url}/`,
  });
  return { url, proc };
}

/** Every file under a directory tree (empty when it does not exist). */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

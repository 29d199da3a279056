import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { Agent, request } from "undici";
import { waitFor } from "../../infra/local/proc.js";
import { tsxArgs } from "../../infra/local/services.js";
import { freeBlock, trustClusterCa } from "../helpers/cluster.js";

// `npm start` end to end: the runner brings up the default cluster, writes
// cluster.json, serves through every URL it lists, and a SIGINT leaves nothing behind.

const root = path.resolve(import.meta.dirname, "../..");
// Not created here: --fresh must create it (and a mkdtemp dir is 0700, closed to nginx workers).
const dataDir = path.join(os.tmpdir(), `oose-runner-${process.pid}-${Date.now()}`);
let runner: ChildProcess | undefined;
let output = "";

test.afterEach.always((t) => {
  if (t.passed) rmSync(dataDir, { recursive: true, force: true });
  else t.log(`runner output:\n${output}\ndata and logs kept in ${dataDir}`);
});

test.after.always(async () => {
  if (runner && runner.exitCode === null && runner.signalCode === null) {
    runner.kill("SIGTERM");
    await Promise.race([new Promise((r) => runner?.once("exit", r)), sleep(20_000, undefined, { ref: false })]);
  }
});

const getJson = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
};

const isDead = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
};

test.serial("npm start runs the whole cluster and Ctrl-C stops every process", async (t) => {
  t.timeout(180_000);
  const base = await freeBlock();
  runner = spawn(
    process.execPath,
    tsxArgs("infra/local/index.ts", "--base-port", String(base), "--data", dataDir, "--fresh"),
    // The stand-in CouchDB, whatever the developer's shell says.
    { cwd: root, env: { ...process.env, COUCHDB_URL: "" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  runner.stdout?.on("data", (d) => (output += d));
  runner.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((r) => runner?.once("exit", (code) => r(code)));

  const infoFile = path.join(dataDir, "cluster.json");
  await waitFor(
    "cluster.json",
    async () => existsSync(infoFile) && existsSync(path.join(dataDir, "pids.json")),
    150_000,
    250,
  );
  const info = JSON.parse(readFileSync(infoFile, "utf8"));
  const pids = JSON.parse(readFileSync(path.join(dataDir, "pids.json"), "utf8")) as Record<string, number>;

  const url = (port: number, scheme = "http") => `${scheme}://127.0.0.1:${port}`;
  t.deepEqual(Object.keys(info).sort(), [
    "admin",
    "ca",
    "couchdb",
    "front",
    "prismAuth",
    "prisms",
    "redis",
    "storeAuth",
    "stores",
  ]);
  t.deepEqual(info.prisms, [
    { name: "prism1", url: url(base + 10, "https") },
    { name: "prism2", url: url(base + 11, "https") },
  ]);
  t.deepEqual(
    info.stores,
    [1, 2, 3, 4].map((n) => ({
      name: `store${n}`,
      prism: n <= 2 ? "prism1" : "prism2",
      zone: `zone${((n - 1) % 2) + 1}`,
      url: url(base + 39 + n, "https"),
      public: url(base + 69 + n),
    })),
  );
  t.is(info.front, url(base, "https"));
  // The node APIs and the front speak HTTPS with certificates from the cluster's own CA.
  t.is(info.ca, path.join(dataDir, "tls", "ca.crt"));
  const untrusting = new Agent();
  await t.throwsAsync(request(`${info.prisms[0].url}/ping`, { dispatcher: untrusting }), {
    code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  });
  await untrusting.close();
  trustClusterCa(info.ca);
  t.is(info.couchdb, url(base + 1));
  t.deepEqual(info.redis, {
    name: "oose",
    sentinels: [4, 5, 6].map((k) => ({ host: "127.0.0.1", port: base + k })),
  });
  for (const key of ["admin", "prismAuth", "storeAuth"]) {
    t.deepEqual(Object.keys(info[key]).sort(), ["password", "username"], key);
    t.true(info[key].username.length > 0 && info[key].password.length >= 16, key);
  }

  for (const node of [...info.prisms, ...info.stores]) {
    const res = await getJson(`${node.url}/ping`);
    t.deepEqual(res.body, { pong: "pong" }, node.name);
  }
  for (const store of info.stores) {
    const res = await fetch(`${store.public}/`, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    t.true(res.status > 0, store.name);
    t.is(res.headers.get("server"), "nginx", store.name);
    t.is(res.headers.get("x-peer"), store.name);
  }
  t.deepEqual((await getJson(`${info.front}/ping`)).body, { pong: "pong" });

  runner.kill("SIGINT");
  const code = await Promise.race([exited, sleep(60_000, undefined, { ref: false }).then(() => "timeout")]);
  t.is(code, 0);
  t.true(Object.keys(pids).length >= 17, "pids.json lists every process");
  for (const [name, pid] of Object.entries(pids)) t.true(isDead(pid), `${name} (pid ${pid}) is gone`);
});

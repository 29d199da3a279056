import path from "node:path";
import test from "ava";
import { DIST } from "../../scripts/build.mjs";
import { startCluster } from "../../infra/local/cluster.js";
import { useCluster } from "../helpers/cluster.js";

// The harness itself: a started cluster is complete, processes can be killed
// and restarted by name, and a second cluster on the same ports is refused.

const cluster = useCluster(test);

const ping = async (url: string) => {
  const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(3000) });
  return res.json();
};

test.serial("every node is healthy and registered in CouchDB", async (t) => {
  const { info } = cluster();
  for (const node of [...info.prisms, ...info.stores]) {
    const res = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(3000) });
    t.is(res.status, 200, node.name);
    await res.arrayBuffer();
  }
  const res = await fetch(`${info.couchdb}/oose-peer/_all_docs`, { signal: AbortSignal.timeout(3000) });
  const ids = ((await res.json()) as { rows: { id: string }[] }).rows.map((r) => r.id);
  t.is(ids.length, info.prisms.length + info.stores.length, ids.join(", "));
});

test.serial("every node runs the compiled dist/app/main.js on plain node, as the image does", (t) => {
  const c = cluster();
  for (const node of [...c.info.prisms, ...c.info.stores]) {
    const { spawnfile, spawnargs } = c.procs[node.name]!.child;
    t.is(spawnfile, process.execPath, node.name);
    t.deepEqual(spawnargs.slice(1), [path.join(DIST, "app", "main.js")], `${node.name}: no loader, no flags`);
  }
});

test.serial("the admin user can log in to CouchDB", async (t) => {
  const { info } = cluster();
  const res = await fetch(`${info.couchdb}/_session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: info.admin.username, password: info.admin.password }),
    signal: AbortSignal.timeout(3000),
  });
  t.is(res.status, 200);
  t.like(await res.json(), { ok: true, name: info.admin.username });
});

test.serial("a killed store comes back with restart(), under a new pid", async (t) => {
  const c = cluster();
  const store = c.info.stores[1]!;
  const before = c.procs[store.name]!;
  c.kill(store.name, "SIGKILL");
  await before.exited;
  await t.throwsAsync(() => ping(store.url));
  const after = await c.restart(store.name);
  t.not(after.pid, before.pid);
  t.is(c.procs[store.name], after);
  t.deepEqual(await ping(store.url), { pong: "pong" });
});

test.serial("services restart by name too", async (t) => {
  const c = cluster();
  const before = c.procs["redis-sentinel1"]!.pid;
  const after = await c.restart("redis-sentinel1");
  t.not(after.pid, before);
  t.true(c.logs().includes("==> logs/redis-sentinel1.log <=="));
});

test.serial("a second cluster on the same ports is refused, naming the ports", async (t) => {
  const c = cluster();
  const base = Number(new URL(c.info.front!).port);
  const err = await t.throwsAsync(() =>
    startCluster({ spec: c.spec, basePort: base, dataDir: `${c.dataDir}-dup`, logDir: `${c.dataDir}-dup/logs` }),
  );
  t.regex(err.message, new RegExp(`ports already in use: ${base} \\(front nginx\\), ${base + 1} \\(couchdb\\)`));
  t.regex(err.message, new RegExp(`${base + 70} \\(store1 nginx\\)`));
});

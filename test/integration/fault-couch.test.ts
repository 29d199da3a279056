import { randomBytes } from "node:crypto";
import test from "ava";
import type { PrismClient } from "../../packages/client/src/index.js";
import { useCluster } from "../helpers/cluster.js";
import { deliver, FAST_HEARTBEAT, peerDoc, type Stored, sha1, storeFiles, until } from "../helpers/fault.js";
import { loggedIn } from "../helpers/prism.js";

// CouchDB out: deliveries of existing purchases go on from the prisms' cached
// existence and peer tables; uploads and uncached existence answer 503
// BACKEND_UNAVAILABLE (never "not found"); all recovers by itself when it is
// back. Two outages: a hang (SIGSTOP: sockets stay open, calls time out) and a
// crash (SIGKILL, then a restart on the same data: the stand-in persists here).

const COUCH_TIMEOUT_MS = 1500;

const cluster = useCluster(test, {
  persist: true,
  extraEnv: (): Record<string, string> => ({ ...FAST_HEARTBEAT, OOSE_COUCHDB__TIMEOUT_MS: String(COUCH_TIMEOUT_MS) }),
});

let files: Stored[] = [];
let client: PrismClient;

test.before(async () => {
  client = await loggedIn(cluster());
  files = await storeFiles(client, 6, 16 * 1024);
  // Each prism has looked every file up once.
  for (const f of files) for (const p of [0, 1]) if (!(await deliver(cluster(), p, f)).ok) throw new Error("warm-up failed");
});

const status = (err: unknown) => ({
  status: (err as { status?: number }).status,
  code: (err as { code?: string }).code,
});

async function duringOutage(t: import("ava").ExecutionContext, label: string): Promise<void> {
  const c = cluster();
  const started = performance.now();
  const ds = [];
  for (let i = 0; i < 30; i++) ds.push(await deliver(c, i % 2, files[i % files.length]!));
  const deliverMs = performance.now() - started;
  t.true(ds.every((d) => d.ok), `${label}: ${JSON.stringify(ds.filter((d) => !d.ok).slice(0, 3))}`);

  const uploadStarted = performance.now();
  const upload = await t.throwsAsync(client.upload([{ name: "during.bin", data: randomBytes(50_000) }]));
  const uploadMs = performance.now() - uploadStarted;
  t.deepEqual(status(upload), { status: 503, code: "BACKEND_UNAVAILABLE" }, `${label}: upload`);

  const unknown = await t.throwsAsync(client.detail(sha1(randomBytes(8))));
  t.deepEqual(status(unknown), { status: 503, code: "BACKEND_UNAVAILABLE" }, `${label}: existence is unknown, not absent`);
  t.log(
    `couchdb ${label}: 30 deliveries all served in ${deliverMs.toFixed(0)} ms; upload refused with 503 after ${uploadMs.toFixed(0)} ms`,
  );
  t.true(uploadMs < COUCH_TIMEOUT_MS * 2 + 2000, "the 503 comes within the CouchDB deadline, never a hang");
}

async function recovers(t: import("ava").ExecutionContext, label: string, since: number): Promise<void> {
  const c = cluster();
  const data = randomBytes(60_000);
  await until("uploads work again", async () => (await client.upload([{ name: "after.bin", data }])).files.file!.copies.length === 2, 30_000, 200);
  t.log(`couchdb ${label}: uploads work again ${(performance.now() - since).toFixed(0)} ms after CouchDB came back`);
  for (const f of files) t.like(await client.detail(f.hash), { exists: true, count: 2 });
  const { token } = await client.purchase({ hash: sha1(data), ext: "bin" });
  t.like(await deliver(c, 1, { hash: sha1(data), data, token, relativePath: "" }), { ok: true });
  for (const s of c.info.stores) t.true((await peerDoc(c, s.name)).available, `${s.name} still available`);
}

test.serial("CouchDB hangs (SIGSTOP): deliveries go on, uploads and existence get 503, all recovers on SIGCONT", async (t) => {
  const c = cluster();
  t.teardown(() => c.kill("couchdb", "SIGCONT"));
  c.kill("couchdb", "SIGSTOP");
  try {
    await duringOutage(t, "hang");
  } finally {
    c.kill("couchdb", "SIGCONT");
  }
  await recovers(t, "hang", performance.now());
});

test.serial("CouchDB dies (SIGKILL): deliveries go on, uploads and existence get 503, all recovers after restart", async (t) => {
  const c = cluster();
  c.kill("couchdb", "SIGKILL");
  await c.procs.couchdb!.exited;
  try {
    await duringOutage(t, "down");
  } finally {
    await c.restart("couchdb");
  }
  await recovers(t, "down", performance.now());
});

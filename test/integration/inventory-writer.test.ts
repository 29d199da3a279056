import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { InventoryWriter } from "../../app/adapters/couch/inventory-writer.js";
import { type Couch, openCouch } from "../../app/adapters/couch/index.js";
import { getCopy } from "../../app/adapters/couch/inventory.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import { copyDoc, type InventoryDoc } from "../../app/core/inventory.js";
import { InventoryConflict, InventoryRejected } from "../../app/errors.js";
import { freePort, type Proc } from "../../infra/local/proc.js";
import { startCouch } from "../../infra/local/services.js";

// The store's inventory writer against the CouchDB stand-in: concurrent
// changes share one _bulk_docs, and one doc's failure in the answer fails
// that caller alone while the rest of the batch is written.

let couchProc: Proc;
let port: number;
const dir = mkdtempSync(path.join(os.tmpdir(), "oose-writer-"));

test.before(async () => {
  port = await freePort();
  couchProc = await startCouch({ port, logDir: dir });
});

test.after.always(async () => {
  await couchProc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function fresh(t: import("ava").ExecutionContext): Promise<Couch> {
  const couch = openCouch({ url: `http://127.0.0.1:${port}`, database: `writer${n++}`, timeoutMs: 5000 });
  t.teardown(() => couch.close());
  await ensureDatabases(couch);
  return couch;
}

const doc = (hash: string, createdAt = new Date().toISOString()): InventoryDoc =>
  copyDoc({ hash, ext: "bin", size: 10, relativePath: `${hash}.bin` }, "prism1", "store1", createdAt);
const hashOf = (i: number) => i.toString(16).padStart(40, "0");

test("a conflicting doc fails exactly its caller; the others in the same request are written", async (t) => {
  const couch = await fresh(t);
  // One write per doc: a doc that exists is a conflict the caller hears about.
  const writer = new InventoryWriter(couch, { maxBatch: 50, maxQueue: 100, windowMs: 20 }, 1);
  const requests: number[] = [];
  writer.observe((docs) => requests.push(docs));
  const taken = hashOf(1);
  await couch.db<InventoryDoc>("inventory").insert({ ...doc(taken), _id: `${taken}:prism1:store1` } as never);
  const hashes = [hashOf(2), taken, hashOf(3), hashOf(4)];
  const outcomes = await Promise.allSettled(hashes.map((h) => writer.put(doc(h))));
  t.deepEqual(requests, [4], "one request for the four");
  t.like(outcomes[1], { status: "rejected" });
  t.true((outcomes[1] as PromiseRejectedResult).reason instanceof InventoryConflict);
  for (const i of [0, 2, 3]) {
    t.like(outcomes[i], { status: "fulfilled" });
    t.truthy(await getCopy(couch, hashes[i]!, "prism1", "store1"));
  }
});

test("a doc the database refuses fails its caller with INVENTORY_REJECTED; the batch goes on", async (t) => {
  const couch = await fresh(t);
  const writer = new InventoryWriter(couch, { maxBatch: 50, maxQueue: 100, windowMs: 20 });
  // An id starting with "_" is reserved: CouchDB refuses that one doc.
  const outcomes = await Promise.allSettled([writer.put(doc(hashOf(5))), writer.put(doc("_bad")), writer.put(doc(hashOf(6)))]);
  t.like(outcomes[0], { status: "fulfilled" });
  t.like(outcomes[2], { status: "fulfilled" });
  t.like(outcomes[1], { status: "rejected" });
  t.true((outcomes[1] as PromiseRejectedResult).reason instanceof InventoryRejected);
});

test("rewrites keep createdAt, removals are idempotent, and writes and removals share requests", async (t) => {
  const couch = await fresh(t);
  const writer = new InventoryWriter(couch, { maxBatch: 50, maxQueue: 100, windowMs: 20 });
  const requests: number[] = [];
  writer.observe((docs) => requests.push(docs));
  const old = "2020-01-01T00:00:00.000Z";
  await Promise.all([1, 2, 3].map((i) => writer.put(doc(hashOf(10 + i), old))));
  await Promise.all([
    writer.put({ ...doc(hashOf(11)), verifiedAt: 42 }),
    writer.remove(hashOf(12), "prism1", "store1"),
    writer.remove(hashOf(99), "prism1", "store1"),
    writer.put(doc(hashOf(14))),
  ]);
  t.like(await getCopy(couch, hashOf(11), "prism1", "store1"), { createdAt: old, verifiedAt: 42 });
  t.is(await getCopy(couch, hashOf(12), "prism1", "store1"), undefined);
  t.truthy(await getCopy(couch, hashOf(13), "prism1", "store1"));
  t.truthy(await getCopy(couch, hashOf(14), "prism1", "store1"));
  t.true(requests.length <= 4, `requests: ${requests.join(", ")}`);
});

test("CouchDB unreachable: every caller in the batch gets a 503", async (t) => {
  const couch = openCouch({ url: `http://127.0.0.1:${await freePort()}`, database: "nowhere", timeoutMs: 1000 });
  t.teardown(() => couch.close());
  const writer = new InventoryWriter(couch, { maxBatch: 50, maxQueue: 100, windowMs: 0 });
  const outcomes = await Promise.allSettled([writer.put(doc(hashOf(20))), writer.remove(hashOf(21), "prism1", "store1")]);
  for (const o of outcomes) {
    t.like(o, { status: "rejected" });
    t.like((o as PromiseRejectedResult).reason, { status: 503, code: "BACKEND_UNAVAILABLE" });
  }
});

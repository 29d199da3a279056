import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { pino } from "pino";
import { StoreHealth } from "../../app/routing/health.js";
import type { StorePool } from "../../app/routing/pool.js";
import type { InventoryDoc } from "../../app/core/inventory.js";
import type { Peer } from "../../app/core/peer.js";
import { DISK_HEALTH_FILE, DiskHealthWriter } from "../../app/jobs/disk-health.js";
import { diskProblem, StoreProbe } from "../../app/jobs/probe.js";
import type { LiveHolder } from "../../app/core/peer.js";
import { readOrder } from "../../app/prism/read-order.js";

// The prism's quick probe of each store, the suspicion it leaves, and the
// order in which deliveries then pick holders.

const quiet = pino({ level: "silent" });
const at = (s: number) => new Date(s * 1000).toUTCString();

test("the health file's age is read off the store's own clock", (t) => {
  t.is(diskProblem(200, { date: at(1000), "last-modified": at(999) }, 10_000), undefined);
  t.is(diskProblem(200, { date: at(1000), "last-modified": at(990) }, 10_000), undefined);
  t.regex(diskProblem(200, { date: at(1000), "last-modified": at(989) }, 10_000)!, /written 11 s ago/);
  t.regex(diskProblem(403, { date: at(1000), "last-modified": at(1000) }, 10_000)!, /answered 403/);
  t.regex(diskProblem(200, { date: at(1000) }, 10_000)!, /no Date or Last-Modified/);
});

test("a missed probe makes a store suspect until that endpoint answers again; a lost nginx keeps only redirects away", (t) => {
  let now = 0;
  const health = new StoreHealth({ holdMs: 30_000, now: () => now });
  health.probed("store1", "public", "health file: nginx answered 403");
  t.true(health.isSuspect("store1", "public"));
  t.false(health.isSuspect("store1", "api"), "uploads still go to a store whose nginx cannot read the file");
  health.answered("store1");
  t.true(health.isSuspect("store1", "public"), "a request's answer does not clear the probe");
  health.probed("store1", "api", "no answer within 500 ms");
  t.true(health.isSuspect("store1", "api"));
  health.probed("store1", "api");
  t.false(health.isSuspect("store1", "api"));
  health.probed("store1", "public");
  t.false(health.isSuspect("store1", "public"));
  // A probe that stops reporting (the prism's probe itself stuck) does not keep a store out for good.
  health.probed("store2", "api", "no answer within 500 ms");
  now += 30_001;
  t.false(health.isSuspect("store2", "public"));
});

const copy = (store: string): LiveHolder => ({
  copy: { store } as InventoryDoc,
  peer: { name: store } as Peer,
});

test("deliveries prefer the holders that answered; when all are suspect, the one that answered last", (t) => {
  let now = 10_000;
  const health = new StoreHealth({ now: () => now });
  const pool = { health, load: () => 0 } as unknown as StorePool;
  const copies = ["store1", "store2", "store3"].map(copy);
  const first = () => readOrder(copies, pool, "public")[0]!.peer.name;

  health.probed("store1", "public");
  health.probed("store2", "public");
  now += 1000;
  health.probed("store3", "public");
  health.probed("store1", "public", "no answer within 500 ms");
  health.probed("store2", "public", "no answer within 500 ms");
  for (let i = 0; i < 20; i++) t.is(first(), "store3");

  now += 1000;
  health.probed("store3", "public", "no answer within 500 ms");
  for (let i = 0; i < 20; i++) t.is(first(), "store3", "every holder suspect: the latest to answer");
  t.deepEqual(
    readOrder(copies, pool, "public").map((c) => c.peer.name).slice(1).sort(),
    ["store1", "store2"],
    "no holder is dropped",
  );
  health.probed("store4", "public", "no answer within 500 ms");
  const withNever = [...copies, copy("store4")];
  t.is(readOrder(withNever, pool, "public").at(-1)!.peer.name, "store4", "one never heard from goes last");
});

test("the disk health writer rewrites its file in place, keeping its mode", async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), "oose-disk-health-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  let now = Date.parse("2026-01-01T00:00:00Z");
  const writer = new DiskHealthWriter({ dataRoot: root, interval: 50, log: quiet, now: () => now });
  await writer.write();
  const file = path.join(root, DISK_HEALTH_FILE);
  t.is(readFileSync(file, "utf8"), "2026-01-01T00:00:00.000Z\n");
  chmodSync(file, 0o600);
  now += 1500;
  writer.start();
  await sleep(150);
  writer.stop();
  t.is(readFileSync(file, "utf8"), "2026-01-01T00:00:01.500Z\n");
  t.is(statSync(file).mode & 0o777, 0o600);
  // Gone from under a running store (an unmounted disk): not made again on whatever is there now.
  unlinkSync(file);
  await t.throwsAsync(writer.write(), { code: "ENOENT" });
  t.false(existsSync(file));
});

/** A store stand-in: /ping answers until `hang` is set, then holds every request unanswered. */
async function fakeStore(t: { teardown(fn: () => void): void }) {
  const state = { hang: false, health: 200, stallAfterAnswer: 0 };
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    if (state.hang) return void held.push(res);
    if (req.url === "/ping") {
      // Blocks this whole process once the answer is on its way: the prism's side of it stalls with the answer waiting.
      const stall = state.stallAfterAnswer;
      state.stallAfterAnswer = 0;
      if (stall) res.once("finish", () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stall));
      return void res.end(JSON.stringify({ pong: "pong" }));
    }
    res.writeHead(state.health, { date: new Date().toUTCString(), "last-modified": new Date().toUTCString() });
    res.end("x");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const r of held) r.destroy();
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const peer = { name: "store1", type: "store", active: true, url, publicUrl: url } as Peer;
  return { state, peer };
}

test("the probe marks a store that stops answering, and clears it on the next answer", async (t) => {
  const { state, peer } = await fakeStore(t);
  const health = new StoreHealth();
  const probe = new StoreProbe({ stores: () => [peer], health, settings: { interval: 150, timeout: 150, staleAfter: 10_000 } });
  /** ms until `check` holds (polled), or -1 after 3 s. */
  const within = async (check: () => boolean) => {
    const started = performance.now();
    while (!check()) {
      if (performance.now() - started > 3000) return -1;
      await sleep(5);
    }
    return performance.now() - started;
  };
  probe.start();
  t.teardown(() => probe.stop());
  await sleep(400);
  t.false(health.isSuspect("store1", "public"), "good answers mark nothing");

  state.hang = true;
  // An interval and a timeout, with room for timers late on a busy machine.
  const took = await within(() => health.isSuspect("store1", "api"));
  t.true(took >= 0 && took < 1500, `suspect after ${took.toFixed(0)} ms`);
  t.true(health.isSuspect("store1", "public"));

  state.hang = false;
  t.true((await within(() => !health.isSuspect("store1", "public"))) >= 0, "cleared by the next good answer");

  state.health = 404;
  t.true((await within(() => health.isSuspect("store1", "public"))) >= 0, "a missing health file fails the disk probe");
  t.false(health.isSuspect("store1", "api"));
});

test("a prism that stalls past the deadline does not blame a store whose answer is waiting", async (t) => {
  const { state, peer } = await fakeStore(t);
  const health = new StoreHealth();
  const probe = new StoreProbe({
    stores: () => [{ ...peer, publicUrl: undefined }],
    health,
    settings: { interval: 60_000, timeout: 100, staleAfter: 10_000 },
  });
  state.stallAfterAnswer = 400;
  probe.start();
  t.teardown(() => probe.stop());
  await sleep(200);
  t.is(health.suspicion("store1", "api"), 0);
  t.false(health.isSuspect("store1", "api"));
});

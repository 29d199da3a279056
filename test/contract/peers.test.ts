import test from "ava";
import pino from "pino";
import { CouchPeers } from "../../app/adapters/couch/peers.js";
import { MemoryPeers } from "../../app/adapters/memory/peers.js";
import type { PeerDoc } from "../../app/core/peer.js";
import { PeerTable } from "../../app/core/peer-table.js";
import type { PeerDirectory, SelfConfig } from "../../app/core/ports/peers.js";
import { BackendUnavailable } from "../../app/errors.js";
import { contract, useCouch } from "../helpers/contract.js";

// One body of tests for the PeerDirectory port, against CouchDB (the
// stand-in) and the memory directory, and the PeerTable routing over each:
// registration keeps an operator's switches, availability records when a
// peer went down, invalid docs never route, a failed refresh keeps the table.

const couch = useCouch(test);

interface Impl {
  dir: PeerDirectory;
  /** Writes a doc as an operator or an older tool would. */
  put(key: string, doc: Record<string, unknown>): Promise<void>;
}

const store = (name: string, over: Partial<SelfConfig> = {}): SelfConfig => ({
  role: "store",
  name,
  prism: "p1",
  advertiseUrl: `http://10.0.0.1:${5000 + name.length}/`,
  publicUrl: "http://cdn.example/",
  nginxUrl: undefined,
  site: "local",
  zone: "z1",
  host: `h-${name}`,
  ...over,
});

const silent = pino({ level: "silent" });

/** The directory with its listing replaced (a failing or wiped database). */
const listing = (dir: PeerDirectory, list: PeerDirectory["list"]): PeerDirectory => ({
  registerSelf: (s) => dir.registerSelf(s),
  setAvailable: (k, a) => dir.setAvailable(k, a),
  setCapacity: (k, c) => dir.setCapacity(k, c),
  get: (k) => dir.get(k),
  list,
});

contract<Impl>(
  test,
  [
    {
      name: "couch",
      make: async () => {
        const { couch: c } = await couch();
        const db = c.db<Record<string, unknown>>("peer");
        const put: Impl["put"] = async (key, doc) => {
          const cur = await db.get(key).catch(() => undefined);
          await db.insert({ ...doc, _id: key, ...(cur ? { _rev: cur._rev } : {}) });
        };
        return { port: { dir: new CouchPeers(c), put } };
      },
    },
    {
      name: "memory",
      make: async () => {
        const dir = new MemoryPeers();
        return { port: { dir, put: async (key, doc) => dir.put(key, doc as PeerDoc) } };
      },
    },
  ],
  {
    "registering writes the doc available and keeps an operator's switches": async (t, { dir, put }) => {
      const key = await dir.registerSelf(store("s1"));
      t.is(key, "store:p1:s1");
      const first = await dir.get(key);
      t.like(first, {
        key,
        type: "store",
        name: "s1",
        prism: "p1",
        url: "http://10.0.0.1:5002",
        publicUrl: "http://cdn.example",
        available: true,
        active: true,
        writable: true,
      });
      t.like(first, { host: "10.0.0.1", port: 5002, location: { site: "local", zone: "z1", host: "h-s1" } });
      const { key: _, ...doc } = first!;
      await put(key, { ...doc, active: false, writable: false });
      await dir.setAvailable(key, false);
      await dir.registerSelf(store("s1"));
      t.like(await dir.get(key), { available: true, active: false, writable: false, createdAt: first!.createdAt });
      t.is(await dir.registerSelf({ ...store("x"), role: "prism" }), "prism:x");
    },

    "going down records since when, once; coming back clears it": async (t, { dir }) => {
      const key = await dir.registerSelf(store("s1"));
      await dir.setAvailable(key, false);
      const since = (await dir.get(key))!.unavailableSince;
      t.truthy(since);
      await new Promise((r) => setTimeout(r, 5));
      await dir.setAvailable(key, false);
      t.like(await dir.get(key), { available: false, unavailableSince: since });
      await dir.setAvailable(key, true);
      const back = await dir.get(key);
      t.true(back!.available);
      t.is(back!.unavailableSince, undefined);
      await dir.setAvailable("store:p1:missing", false);
      t.is(await dir.get("store:p1:missing"), undefined, "no doc is made for an unknown key");
    },

    "capacity goes into an existing doc only; invalid docs are never listed": async (t, { dir, put }) => {
      const key = await dir.registerSelf(store("s1"));
      const capacity = { free: 10, total: 100, at: "2026-01-01T00:00:00.000Z" };
      await dir.setCapacity(key, capacity);
      await dir.setCapacity("store:p1:gone", capacity);
      t.deepEqual((await dir.get(key))!.capacity, capacity);
      t.is(await dir.get("store:p1:gone"), undefined);
      await put("store:p1:broken", { type: "store", name: "broken" });
      await dir.registerSelf(store("s2"));
      t.deepEqual((await dir.list()).map((p) => p.key).sort(), ["store:p1:s1", "store:p1:s2"]);
      t.is(await dir.get("store:p1:broken"), undefined);
    },

    "the peer table routes over the directory; a failed refresh keeps the last table": async (t, { dir }) => {
      let failing = false;
      const flaky = listing(dir, () => (failing ? Promise.reject(new Error("directory down")) : dir.list()));
      const table = new PeerTable(flaky, 60_000, silent);
      t.false(table.ready);
      await dir.registerSelf(store("s1"));
      const down = await dir.registerSelf(store("s2"));
      await dir.registerSelf({ ...store("p1"), role: "prism" });
      await dir.setAvailable(down, false);
      const changes: number[] = [];
      table.onChange((peers) => changes.push(peers.length));
      await table.start();
      t.teardown(() => table.stop());
      t.true(table.ready && table.healthy);
      t.deepEqual(changes, [3]);
      t.deepEqual(
        table
          .stores()
          .map((p) => p.name)
          .sort(),
        ["s1", "s2"],
      );
      t.deepEqual(
        table.prisms().map((p) => p.name),
        ["p1"],
      );
      t.deepEqual(
        table.liveStores().map((p) => p.name),
        ["s1"],
      );
      t.is(table.store("p1"), undefined, "a prism is not a store");
      failing = true;
      await t.throwsAsync(table.refresh(), { message: "directory down" });
      t.false(table.healthy);
      t.true(table.ready);
      t.is(table.all().length, 3);
      failing = false;
      await table.refresh();
      t.true(table.healthy);
    },

    "an empty directory once peers were known keeps the last table (a wiped database)": async (t, { dir }) => {
      let wiped = false;
      const view = listing(dir, () => (wiped ? Promise.resolve([]) : dir.list()));
      const table = new PeerTable(view, 60_000, silent);
      await table.start();
      t.teardown(() => table.stop());
      t.true(table.ready);
      t.is(table.stores().length, 0, "a directory that was always empty is an empty table");
      await dir.registerSelf(store("s1"));
      await table.refresh();
      t.is(table.stores().length, 1);
      wiped = true;
      await t.throwsAsync(table.refresh(), { instanceOf: BackendUnavailable });
      t.false(table.healthy);
      t.deepEqual(
        table.stores().map((p) => p.name),
        ["s1"],
      );
      wiped = false;
      await table.refresh();
      t.true(table.healthy);
    },
  },
);

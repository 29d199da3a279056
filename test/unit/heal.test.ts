import test from "ava";
import type { Redis } from "ioredis";
import pino from "pino";
import type { Couch } from "../../app/adapters/couch/index.js";
import type { PeerTable } from "../../app/adapters/couch/peers.js";
import { parseConfig } from "../../app/config.js";
import type { InventoryDoc } from "../../app/core/inventory.js";
import type { Peer } from "../../app/core/peer.js";
import type { Copies } from "../../app/jobs/copies.js";
import { Heal, type HealStatus } from "../../app/jobs/heal.js";

// The heal job against fakes: which copies count as held, hashes whose
// copies straddle a page, the grace for young copies, and resuming a pass
// from the cursor kept in Redis.

const NOW = Date.parse("2026-01-10T00:00:00Z");
const OLD = "2026-01-01T00:00:00Z";

const config = parseConfig({
  role: "prism",
  name: "prism1",
  advertiseUrl: "http://127.0.0.1:5971",
  dataRoot: "/tmp/unused",
  couchdb: { url: "http://127.0.0.1:5984" },
  redis: { url: "redis://127.0.0.1:6379" },
  auth: { prism: { username: "p", password: "p" }, store: { username: "s", password: "s" } },
  signingKey: "0123456789abcdef",
  heal: { pageSize: 2, grace: 60_000 },
  heartbeat: { repairAfter: 600_000 },
});

const peer = (name: string, over: Partial<Peer> = {}): Peer =>
  ({ type: "store", name, prism: "prism1", available: true, active: true, writable: true, ...over }) as Peer;

function fakes(ids: string[], peers: Peer[], createdAt: Record<string, string> = {}) {
  const kv = new Map<string, string>();
  const redis = {
    async get(k: string) {
      return kv.get(k) ?? null;
    },
    async set(k: string, v: string, ...args: string[]) {
      if (args.includes("NX") && kv.has(k)) return null;
      kv.set(k, v);
      return "OK";
    },
    async eval(script: string, _n: number, k: string, owner: string) {
      if (kv.get(k) !== owner) return 0;
      if (script.includes('"del"')) kv.delete(k);
      return 1;
    },
  };
  const listed: (string | undefined)[] = [];
  const couch = {
    db: () => ({
      async list(o: { limit: number; startkey?: string }) {
        listed.push(o.startkey);
        const rows = [...ids].sort().filter((id) => o.startkey === undefined || id >= o.startkey);
        return { rows: rows.slice(0, o.limit).map((id) => ({ id })) };
      },
    }),
  };
  const docsOf = (hash: string): InventoryDoc[] =>
    ids
      .filter((id) => id.startsWith(`${hash}:`))
      .map((id) => {
        const store = id.split(":")[2]!;
        return { hash, store, prism: "prism1", size: 10, createdAt: createdAt[id] ?? OLD } as InventoryDoc;
      });
  const added: [string, number][] = [];
  const copies = {
    async holders(hash: string) {
      const all = docsOf(hash);
      const live = all.flatMap((copy) => {
        const p = peers.find((x) => x.name === copy.store);
        return p?.available && p.active ? [{ copy, peer: p }] : [];
      });
      return { all, live };
    },
    async add(hash: string, count: number) {
      added.push([hash, count]);
      return Array.from({ length: count }, (_, i) => ({ from: "a", to: `new${i}`, bytes: 10, ms: 1 }));
    },
  };
  const table = {
    ready: true,
    healthy: true,
    store: (name: string) => peers.find((p) => p.name === name),
  };
  const heal = new Heal({
    couch: couch as unknown as Couch,
    redis: redis as unknown as Redis,
    peers: table as unknown as PeerTable,
    copies: copies as unknown as Copies,
    config,
    log: pino({ level: "silent" }),
    now: () => NOW,
  });
  const status = () => JSON.parse(kv.get("oose:heal:status") ?? "null") as HealStatus | null;
  return { heal, added, listed, kv, status };
}

const down = (minutesAgo: number) => ({
  available: false,
  unavailableSince: new Date(NOW - minutesAgo * 60_000).toISOString(),
});

test("copies short of replicas are added; a copy straddling a page is counted once", async (t) => {
  const ids = ["a:prism1:s1", "a:prism1:s2", "b:prism1:s1", "c:prism1:s1", "c:prism1:s2"];
  const f = fakes(ids, [peer("s1"), peer("s2")]);
  await f.heal.run();
  t.deepEqual(f.added, [["b", 1]]);
  t.like(f.status(), { state: "done", hashes: 3, short: 1, healed: 1, copied: 1, failed: 0 });
  t.is(f.status()?.cursor, undefined);
});

test("a store down less than repairAfter still holds its copy; past it, or switched off, it does not", async (t) => {
  const ids = ["a:prism1:s1", "a:prism1:s2", "b:prism1:s1", "b:prism1:s3", "c:prism1:s1", "c:prism1:s4"];
  const f = fakes(ids, [peer("s1"), peer("s2", down(1)), peer("s3", down(11)), peer("s4", { active: false })]);
  await f.heal.run();
  t.deepEqual(f.added.sort(), [
    ["b", 1],
    ["c", 1],
  ]);
});

test("files with a young copy wait; files with no live copy are counted, not copied", async (t) => {
  const ids = ["a:prism1:s1", "b:prism1:s2"];
  const f = fakes(ids, [peer("s1"), peer("s2", { active: false })], {
    "a:prism1:s1": new Date(NOW - 1000).toISOString(),
  });
  await f.heal.run();
  t.deepEqual(f.added, []);
  t.like(f.status(), { short: 2, deferred: 1, unreachable: 1, healed: 0 });
});

test("a pass cut short resumes after its cursor, with its counts", async (t) => {
  const ids = ["a:prism1:s1", "b:prism1:s1", "c:prism1:s1"];
  const f = fakes(ids, [peer("s1"), peer("s2")]);
  const saved = {
    state: "healing",
    runner: "prism2",
    cursor: "a",
    hashes: 1,
    short: 1,
    healed: 1,
    copied: 1,
    bytes: 10,
    failed: 0,
    unreachable: 0,
    deferred: 0,
    startedAt: OLD,
    ms: 5,
    bytesPerSec: 0,
    total: { short: 1, healed: 1, copied: 1, bytes: 10, failed: 0 },
  } satisfies HealStatus;
  f.kv.set("oose:heal:status", JSON.stringify(saved));
  await f.heal.run();
  t.is(f.listed[0], "a:\ufff0", "the first page starts after every copy of the cursor's hash");
  t.deepEqual(f.added, [
    ["b", 1],
    ["c", 1],
  ]);
  t.like(f.status(), { state: "done", runner: "prism1", hashes: 3, healed: 3, total: { healed: 3, copied: 3 } });
});

test("a pass finished less than an interval ago is not started again", async (t) => {
  const f = fakes(["b:prism1:s1"], [peer("s1"), peer("s2")]);
  f.kv.set(
    "oose:heal:status",
    JSON.stringify({ state: "done", finishedAt: new Date(NOW - 1000).toISOString(), total: {} }),
  );
  await f.heal.run();
  t.deepEqual(f.added, []);
  t.deepEqual(f.listed, []);
});

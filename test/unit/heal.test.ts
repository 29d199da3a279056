import test from "ava";
import pino from "pino";
import { MemoryInventory } from "../../app/adapters/memory/inventory.js";
import { MemoryJobState } from "../../app/adapters/memory/job-state.js";
import { MemoryLeases } from "../../app/adapters/memory/lease.js";
import { parseConfig } from "../../app/config.js";
import { liveHolders, type Peer } from "../../app/core/peer.js";
import type { Copies } from "../../app/routing/copies.js";
import { Heal, type HealStatus } from "../../app/jobs/heal.js";

// The heal job over the memory ports: which copies count as held, hashes
// whose copies straddle a page, the grace for young copies, and resuming a
// pass from the cursor kept in the job state.

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

const STATUS = "oose:heal:status";

async function fakes(ids: string[], peers: Peer[], createdAt: Record<string, string> = {}) {
  const inventory = new MemoryInventory();
  for (const id of ids) {
    const [hash, prism, store] = id.split(":") as [string, string, string];
    const createdOn = createdAt[id] ?? OLD;
    const file = { mimeType: "application/octet-stream", mimeExtension: "bin", relativePath: `${hash}.bin` };
    await inventory.record({ hash, prism, store, size: 10, createdAt: createdOn, ...file });
  }
  const listed: (string | undefined)[] = [];
  const pager = {
    idsAfter(after: string | undefined, pageSize: number) {
      listed.push(after);
      return inventory.idsAfter(after, pageSize);
    },
  };
  const added: [string, number][] = [];
  const copies = {
    async holders(hash: string) {
      const all = await inventory.copiesOf(hash);
      return { all, live: liveHolders(all, (name) => peers.find((x) => x.name === name)) };
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
  const state = new MemoryJobState();
  const heal = new Heal({
    inventory: pager,
    state,
    leases: new MemoryLeases(() => NOW),
    peers: table,
    copies: copies as unknown as Copies,
    config,
    log: pino({ level: "silent" }),
    now: () => NOW,
  });
  const status = () => state.read<HealStatus>(STATUS);
  return { heal, added, listed, state, status };
}

const down = (minutesAgo: number) => ({
  available: false,
  unavailableSince: new Date(NOW - minutesAgo * 60_000).toISOString(),
});

test("copies short of replicas are added; a copy straddling a page is counted once", async (t) => {
  const ids = ["a:prism1:s1", "a:prism1:s2", "b:prism1:s1", "c:prism1:s1", "c:prism1:s2"];
  const f = await fakes(ids, [peer("s1"), peer("s2")]);
  await f.heal.run();
  t.deepEqual(f.added, [["b", 1]]);
  t.like(await f.status(), { state: "done", hashes: 3, short: 1, healed: 1, copied: 1, failed: 0 });
  t.is((await f.status())?.cursor, undefined);
});

test("a store down less than repairAfter still holds its copy; past it, or switched off, it does not", async (t) => {
  const ids = ["a:prism1:s1", "a:prism1:s2", "b:prism1:s1", "b:prism1:s3", "c:prism1:s1", "c:prism1:s4"];
  const f = await fakes(ids, [peer("s1"), peer("s2", down(1)), peer("s3", down(11)), peer("s4", { active: false })]);
  await f.heal.run();
  t.deepEqual(f.added.sort(), [
    ["b", 1],
    ["c", 1],
  ]);
});

test("files with a young copy wait; files with no live copy are counted, not copied", async (t) => {
  const ids = ["a:prism1:s1", "b:prism1:s2"];
  const f = await fakes(ids, [peer("s1"), peer("s2", { active: false })], {
    "a:prism1:s1": new Date(NOW - 1000).toISOString(),
  });
  await f.heal.run();
  t.deepEqual(f.added, []);
  t.like(await f.status(), { short: 2, deferred: 1, unreachable: 1, healed: 0 });
});

test("a pass cut short resumes after its cursor, with its counts", async (t) => {
  const ids = ["a:prism1:s1", "b:prism1:s1", "c:prism1:s1"];
  const f = await fakes(ids, [peer("s1"), peer("s2")]);
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
  await f.state.write(STATUS, saved);
  await f.heal.run();
  t.is(f.listed[0], "a", "the first page starts after every copy of the cursor's hash");
  t.deepEqual(f.added, [
    ["b", 1],
    ["c", 1],
  ]);
  t.like(await f.status(), { state: "done", runner: "prism1", hashes: 3, healed: 3, total: { healed: 3, copied: 3 } });
});

test("a pass finished less than an interval ago is not started again", async (t) => {
  const f = await fakes(["b:prism1:s1"], [peer("s1"), peer("s2")]);
  await f.state.write(STATUS, { state: "done", finishedAt: new Date(NOW - 1000).toISOString(), total: {} });
  await f.heal.run();
  t.deepEqual(f.added, []);
  t.deepEqual(f.listed, []);
});

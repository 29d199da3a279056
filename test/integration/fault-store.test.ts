import { randomBytes } from "node:crypto";
import { buffer } from "node:stream/consumers";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { relativePath } from "../../app/core/layout.js";
import { useCluster } from "../helpers/cluster.js";
import {
  type Delivery,
  deliver,
  deliveryLoad,
  ensureStoreUp,
  FAST_HEARTBEAT,
  holders,
  inventory,
  killStore,
  partials,
  peerDoc,
  restartStore,
  type Stored,
  sha1,
  signalStore,
  slowUpload,
  storeFiles,
  storeKey,
  until,
  votesAgainst,
} from "../helpers/fault.js";
import { loggedIn } from "../helpers/prism.js";

// A store dies (SIGKILL) or hangs (SIGSTOP) under load: users keep getting
// their files, uploads are all or nothing, and the cluster takes the store
// back when it returns. A "store" is its node and its nginx, killed by pid.

const FAILOVER_MS = 800;

const cluster = useCluster(test, {
  // The load stands for many users; nginx's per-address request limit would otherwise answer 429.
  storeRate: { requestsPerSecond: 100_000, burst: 100_000 },
  extraEnv: (node): Record<string, string> => ({
    ...FAST_HEARTBEAT,
    // Repair has its own test; here a store is never down long enough to matter.
    OOSE_REPAIR__ENABLED: "false",
    ...(node.role === "prism" ? { OOSE_LIMITS__FAILOVER_TIMEOUT_MS: String(FAILOVER_MS) } : {}),
  }),
});

let files: Stored[] = [];

test.before(async () => {
  files = await storeFiles(await loggedIn(cluster()), 24, 8 * 1024);
});

/** The store holding the most of `files`. */
function busiest(): string {
  const c = cluster();
  const count = (s: string) => files.filter((f) => holders(c, f).includes(s)).length;
  return c.info.stores.map((s) => s.name).sort((a, b) => count(b) - count(a))[0]!;
}

const LOAD_CONNECTIONS = 6;
const ratio = (ds: Delivery[]) => (ds.length === 0 ? 0 : ds.filter((d) => !d.ok).length / ds.length);
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

test.serial("SIGKILL a store under delivery load: <1% failures, then no redirect to it, then it is restored", async (t) => {
  const c = cluster();
  const victim = busiest();
  t.teardown(() => ensureStoreUp(c, victim));
  const load = deliveryLoad(c, files, LOAD_CONNECTIONS);
  // A busy machine may take longer than usual to get going: wait for a real load, not a fixed time.
  await until("a running delivery load", async () => load.results.filter((d) => d.ok).length > 100, 20_000);
  const killedAt = performance.now();
  let results: Delivery[];
  let detectMs: number;
  try {
    await killStore(c, victim);
    await until("store marked unavailable", async () => !(await peerDoc(c, victim)).available, 15_000, 20);
    detectMs = performance.now() - killedAt;
    // Every node polls the peer table every 300 ms: well past that, nobody may route to the store.
    await sleep(2000);
  } finally {
    results = await load.stop();
  }
  const detectedAt = killedAt + detectMs;

  // In the window: every delivery still running at the kill, up to the detection.
  const before = results.filter((d) => d.end < killedAt);
  const window = results.filter((d) => d.end >= killedAt && d.at < detectedAt);
  const after = results.filter((d) => d.at >= detectedAt + 500);
  const toVictim = results.filter((d) => d.at >= killedAt && d.store === victim);
  const lastToVictim = toVictim.length ? Math.max(...toVictim.map((d) => d.at)) - killedAt : 0;
  t.log(`store kill: detection (peer doc unavailable) after ${detectMs.toFixed(0)} ms`);
  t.log(
    `store kill: ${results.length} deliveries, ${results.filter((d) => !d.ok).length} failed (${pct(ratio(results))}); ` +
      `in the detection window ${window.length} deliveries, ${window.filter((d) => !d.ok).length} failed (${pct(ratio(window))})`,
  );
  t.log(`store kill: last redirect to the dead store issued ${lastToVictim.toFixed(0)} ms after the kill`);
  for (const d of results.filter((x) => !x.ok).slice(0, 5)) {
    t.log(`  failed ${(d.at - killedAt).toFixed(0)} ms after the kill: ${d.store ?? "-"} ${d.error}`);
  }

  t.true(before.length > 50, `a real load ran before the kill (${before.length})`);
  t.true(ratio(before) < 0.01, `failed while every store was up: ${pct(ratio(before))}`);
  t.true(window.length > 0);
  // A transfer the dead store was serving at the kill is cut whatever the routing: at most one per connection,
  // however few deliveries a slow machine got through before it. What routing answers for is the rest.
  const inFlight = window.filter((d) => d.at < killedAt && !d.ok);
  t.true(inFlight.length <= LOAD_CONNECTIONS, `cut at the kill: ${inFlight.length}`);
  const routed = [...before, ...window].filter((d) => !inFlight.includes(d));
  t.true(ratio(routed) < 0.01, `failed before detection, besides those cut at the kill: ${pct(ratio(routed))}`);
  const sentAfter = window.filter((d) => d.at >= killedAt);
  t.true(
    ratio(sentAfter) < 0.01 || sentAfter.filter((d) => !d.ok).length <= 1,
    `failed in the window, sent after the kill: ${pct(ratio(sentAfter))}`,
  );
  t.true(after.length > 50);
  t.is(after.filter((d) => d.store === victim).length, 0, "no redirect to the dead store after detection");
  t.true(after.every((d) => d.ok), "every delivery after detection succeeds");

  // The marking: a majority of the 5 other nodes voted, and the peer doc carries only peer fields.
  const votes = await votesAgainst(c, victim);
  t.true(new Set(votes.map((v) => v.caster)).size >= 3, votes.map((v) => v._id).join(", "));
  t.true(votes.every((v) => v._id === `down:${storeKey(c, victim)}:${v.caster}` && v.castee === storeKey(c, victim)));
  const down = await peerDoc(c, victim);
  t.truthy(down.unavailableSince);
  const peerFields = ["type", "name", "prism", "host", "port", "url", "publicUrl", "location", "available", "active"];
  peerFields.push("writable", "createdAt", "updatedAt", "capacity", "unavailableSince", "_id", "_rev");
  t.deepEqual(Object.keys(down).filter((k) => !peerFields.includes(k)), []);

  const restartedAt = performance.now();
  await restartStore(c, victim);
  await until("store available again", async () => (await peerDoc(c, victim)).available, 15_000);
  await until("no votes left against the restarted store", async () => (await votesAgainst(c, victim)).length === 0, 5000);
  t.falsy((await peerDoc(c, victim)).unavailableSince);
  const held = files.filter((f) => holders(c, f).includes(victim));
  const backMs = await until(
    "deliveries from the restarted store",
    async () => {
      const d = await deliver(c, 0, held[Math.floor(Math.random() * held.length)]!);
      return d.ok && d.store === victim;
    },
    15_000,
    20,
  );
  t.log(`store kill: restored and serving again ${(performance.now() - restartedAt).toFixed(0)} ms after restart (serving ${backMs.toFixed(0)} ms after it was marked available)`);
});

test.serial("SIGKILL a store during uploads: each upload is complete on every replica, or failed leaving only whole, recorded copies", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const datas = Array.from({ length: 3 }, () => randomBytes(3 * 1024 * 1024));
  const uploads = datas.map((d, i) => slowUpload(c.info.prisms[i % 2]!.url, client.token!, d));
  // Strike a store that is receiving a stage right now.
  let victim: string | undefined;
  await until(
    "a store receiving an upload",
    async () => {
      victim = c.info.stores.map((s) => s.name).find((s) => partials(c, s).length > 0);
      return victim !== undefined;
    },
    10_000,
    5,
  );
  await sleep(150);
  t.teardown(() => ensureStoreUp(c, victim!));
  await killStore(c, victim!);
  const outcomes = await Promise.all(uploads);
  await sleep(500); // aborted stages are dropped asynchronously
  const live = c.info.stores.map((s) => s.name).filter((s) => s !== victim);

  for (const [i, outcome] of outcomes.entries()) {
    const hash = sha1(datas[i]!);
    const file = { hash, data: datas[i]!, token: "", relativePath: relativePath(hash, "bin") };
    const docs = await inventory(c, hash);
    if (outcome.status === 200) {
      const reply = (outcome.body.files as Record<string, { hash: string; copies: string[] }>).file!;
      t.is(reply.hash, hash);
      const stores = reply.copies.map((x) => x.split(":")[1]!).sort();
      t.is(stores.length, 2, `upload ${i}: ${reply.copies.join(", ")}`);
      t.deepEqual(holders(c, file, stores).sort(), stores, `upload ${i}: every listed copy is on disk and correct`);
      t.deepEqual(docs.map((d) => d.store).sort(), stores, `upload ${i}: the inventory lists exactly those`);
      t.log(`upload ${i}: success, copies on ${stores.join(", ")}`);
    } else {
      t.true(outcome.status >= 500 || outcome.status === 0, `upload ${i}: ${outcome.status}`);
      // A copy it committed stays (an identical upload may have been answered with it): whole and recorded.
      const kept = holders(c, file, live).sort();
      t.deepEqual(docs.map((d) => d.store).filter((s) => live.includes(s)).sort(), kept, `upload ${i}: disk and inventory agree`);
      t.log(`upload ${i}: error ${outcome.status} ${JSON.stringify(outcome.body)}`);
    }
  }
  for (const s of live) t.deepEqual(partials(c, s), [], `${s}: no staged leftovers`);

  await restartStore(c, victim!);
  await until("store available again", async () => (await peerDoc(c, victim!)).available, 15_000);
  t.deepEqual(partials(c, victim!), [], "the restarted store dropped its partial stage");
});

test.serial("a store killed just before uploads: they succeed on the others, before any vote", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const victim = busiest();
  t.teardown(() => ensureStoreUp(c, victim));
  await killStore(c, victim);
  // Straight away: the heartbeat has not voted yet, so only the request path can route around it.
  for (let i = 0; i < 6; i++) {
    const data = randomBytes(64 * 1024);
    const reply = (await client.upload([{ name: `after-kill-${i}.bin`, data }])).files.file!;
    const stores = reply.copies.map((x) => x.split(":")[1]!);
    t.is(stores.length, 2);
    t.false(stores.includes(victim), `upload ${i} listed the dead ${victim}`);
    const file = { hash: reply.hash, data, token: "", relativePath: relativePath(reply.hash, "bin") };
    t.deepEqual(holders(c, file).sort(), [...stores].sort(), `upload ${i}: on disk exactly where listed`);
  }
  await restartStore(c, victim);
  await until("store available again", async () => (await peerDoc(c, victim)).available, 15_000);
});

test.serial("SIGSTOP a store: downloads time out to the next holder, and routing leaves it until SIGCONT", async (t) => {
  const c = cluster();
  const victim = busiest();
  t.teardown(() => ensureStoreUp(c, victim));
  const held = files.filter((f) => holders(c, f).includes(victim));
  const client = await loggedIn(c, 1);
  const stoppedAt = performance.now();
  signalStore(c, victim, "SIGSTOP");
  try {
    // Uploads started at once may have picked the hung store: they move on to another within a deadline.
    const datas = Array.from({ length: 3 }, () => randomBytes(1024 * 1024));
    const timed = await Promise.all(
      datas.map(async (data, i) => {
        const started = performance.now();
        const reply = await (i % 2 ? client : await loggedIn(c, 0)).upload([{ name: `hung-${i}.bin`, data }]);
        return { ms: performance.now() - started, copies: reply.files.file!.copies };
      }),
    );
    t.log(`store hang: uploads started with it took ${timed.map((u) => u.ms.toFixed(0)).join(", ")} ms`);
    for (const u of timed) {
      t.is(u.copies.length, 2);
      t.false(u.copies.some((x) => x.endsWith(`:${victim}`)), u.copies.join(", "));
      // Well inside the transport's own timeouts (10 s to connect, 30 s for an answer).
      t.true(u.ms < 8000, `an upload took ${u.ms.toFixed(0)} ms`);
    }

    const latencies: number[] = [];
    for (const f of held.slice(0, 6)) {
      const started = performance.now();
      t.true((await buffer(await client.download(f.hash))).equals(f.data));
      latencies.push(performance.now() - started);
    }
    t.log(`store hang: downloads of its files took ${latencies.map((l) => l.toFixed(0)).join(", ")} ms`);
    t.true(Math.max(...latencies) < FAILOVER_MS + 1500, "a hung holder costs one answer deadline at most");

    const detectMs = await until("hung store marked unavailable", async () => !(await peerDoc(c, victim)).available, 15_000, 20);
    t.log(`store hang: detection after ${(performance.now() - stoppedAt).toFixed(0)} ms (${detectMs.toFixed(0)} ms after the downloads)`);
    await sleep(700);
    const ds: Delivery[] = [];
    for (let i = 0; i < 40; i++) ds.push(await deliver(c, i % 2, held[i % held.length]!));
    t.is(ds.filter((d) => d.store === victim).length, 0, "no redirect to the hung store");
    t.true(ds.every((d) => d.ok), JSON.stringify(ds.filter((d) => !d.ok).slice(0, 3)));

    const data = randomBytes(100_000);
    const reply = await client.upload([{ name: "while-hung.bin", data }]);
    t.is(reply.files.file!.copies.length, 2);
    t.false(reply.files.file!.copies.some((x) => x.endsWith(`:${victim}`)));
  } finally {
    signalStore(c, victim, "SIGCONT");
  }
  const backMs = await until("hung store available again", async () => (await peerDoc(c, victim)).available, 15_000);
  t.log(`store hang: restored ${backMs.toFixed(0)} ms after SIGCONT`);
  // Restored by the others' pings (it never restarted): their votes go with it.
  await until("no votes left against the resumed store", async () => (await votesAgainst(c, victim)).length === 0, 5000);
  t.falsy((await peerDoc(c, victim)).unavailableSince);
});

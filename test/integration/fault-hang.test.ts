import { randomBytes } from "node:crypto";
import { chmodSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { request } from "undici";
import { ConfigSchema } from "../../app/config.js";
import { relativePath } from "../../app/core/layout.js";
import { DISK_HEALTH_FILE } from "../../app/jobs/disk-health.js";
import type { LocalCluster } from "../../infra/local/cluster.js";
import { useCluster } from "../helpers/cluster.js";
import {
  ensureStoreUp,
  holders,
  partials,
  type Stored,
  sha1,
  signalStore,
  slowUpload,
  storeFiles,
  storeOfUrl,
  until,
} from "../helpers/fault.js";
import { loggedIn, storeRoot } from "../helpers/prism.js";

// A store that hangs (SIGSTOP of its node and nginx: the kernel still accepts
// their connections) or whose disk stops serving reads, with the heartbeat at
// its production pace: the prisms' own probe must route around it within an
// interval and a timeout, and uploads caught by it must still complete.

const PROBE = ConfigSchema.properties.probe.properties;
const INTERVAL = PROBE.interval.default;
const TIMEOUT = PROBE.timeout.default;
/** Timers on a busy two-core machine run late: what the bound allows beyond the probe's own interval and timeout. */
const MARGIN = 500;
const BOUND = INTERVAL + TIMEOUT + MARGIN;

const cluster = useCluster(test, {
  // The load stands for many users; nginx's per-address request limit would otherwise answer 429.
  storeRate: { requestsPerSecond: 100_000, burst: 100_000 },
  // Repair has its own test; here a store is never down long enough to matter.
  extraEnv: (): Record<string, string> => ({ OOSE_REPAIR__ENABLED: "false" }),
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

interface Shot {
  /** performance.now() when the request left, and when the prism's redirect arrived. */
  at: number;
  redirectAt?: number;
  store?: string;
  ok: boolean;
  error?: string;
}

/** A delivery as a browser does it: the prism's redirect, then the bytes from the store it names. */
async function shoot(c: LocalCluster, prism: number, file: Stored, timeoutMs: number): Promise<Shot> {
  const shot: Shot = { at: performance.now(), ok: false };
  try {
    const res = await request(`${c.info.prisms[prism]!.url}/${file.token}/f.bin`, { signal: AbortSignal.timeout(timeoutMs) });
    shot.redirectAt = performance.now();
    await res.body.dump();
    if (res.statusCode !== 302) return { ...shot, error: `prism answered ${res.statusCode}` };
    shot.store = storeOfUrl(c, String(res.headers.location));
    const bytes = await request(String(res.headers.location), { signal: AbortSignal.timeout(timeoutMs) });
    const body = Buffer.from(await bytes.body.arrayBuffer());
    if (bytes.statusCode !== 200) return { ...shot, error: `nginx answered ${bytes.statusCode}` };
    return body.equals(file.data) ? { ...shot, ok: true } : { ...shot, error: "wrong bytes" };
  } catch (err) {
    return { ...shot, error: (err as Error).message };
  }
}

/**
 * `perSecond` deliveries a second from `clients` users over both prisms, each user on its own fixed schedule
 * (a hung delivery does not slow the next), for `ms`. Returns every delivery once all have ended.
 */
async function pacedLoad(c: LocalCluster, pool: Stored[], o: { perSecond: number; clients: number; ms: number }) {
  const gap = (1000 * o.clients) / o.perSecond;
  const started = performance.now();
  const shots: Promise<Shot>[] = [];
  await Promise.all(
    Array.from({ length: o.clients }, async (_, k) => {
      await sleep((gap * k) / o.clients);
      for (let i = 0; performance.now() - started < o.ms; i++) {
        const file = pool[Math.floor(Math.random() * pool.length)]!;
        shots.push(shoot(c, (k + i) % c.info.prisms.length, file, 3000));
        const next = started + (gap * k) / o.clients + gap * (i + 1);
        await sleep(Math.max(0, next - performance.now()));
      }
    }),
  );
  return Promise.all(shots);
}

const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(2)}%`;

test.serial("SIGSTOP a store under a paced delivery load: no redirect to it once a probe has missed it", async (t) => {
  const c = cluster();
  const victim = busiest();
  t.teardown(() => ensureStoreUp(c, victim));
  // Every prism has heard every store answer: nothing is suspect before the fault.
  await until("deliveries that all succeed", async () => (await pacedLoad(c, files, { perSecond: 60, clients: 4, ms: 1000 })).every((s) => s.ok), 20_000, 0);

  let stoppedAt = 0;
  let resumedAt = 0;
  const fault = (async () => {
    await sleep(2000);
    stoppedAt = performance.now();
    signalStore(c, victim, "SIGSTOP");
    await sleep(4000);
    resumedAt = performance.now();
    signalStore(c, victim, "SIGCONT");
  })();
  // Three seconds of load after the bound past SIGCONT, so the resumed store's share is not left to one second's luck.
  const shots = await pacedLoad(c, files, { perSecond: 120, clients: 8, ms: 11_000 });
  await fault;

  const since = (x: number) => x - stoppedAt;
  const whileStopped = shots.filter((s) => s.redirectAt !== undefined && s.redirectAt >= stoppedAt && s.redirectAt < resumedAt);
  const toVictim = whileStopped.filter((s) => s.store === victim);
  const lastToVictim = Math.max(0, ...toVictim.map((s) => since(s.redirectAt!)));
  const failed = shots.filter((s) => !s.ok);
  const lastFailure = Math.max(0, ...failed.map((s) => since(s.at)));
  t.log(`hang: ${shots.length} deliveries, ${failed.length} failed (${pct(failed.length, shots.length)}); ${toVictim.length} redirected to the stopped store`);
  t.log(`hang: last redirect to it ${lastToVictim.toFixed(0)} ms after the stop, last failed delivery sent ${lastFailure.toFixed(0)} ms after (bound ${BOUND} ms)`);
  const before = shots.filter((s) => s.at < stoppedAt).length;
  t.log(`hang: ${before} sent before the stop; failed sent at ${failed.map((s) => since(s.at).toFixed(0)).join(" ")}`);
  for (const s of failed.slice(0, 5)) t.log(`  failed, sent ${since(s.at).toFixed(0)} ms after the stop: ${s.store ?? "-"} ${s.error}`);

  t.true(before > 100, "a real load ran before the stop");
  t.true(lastToVictim <= BOUND, `a redirect to the stopped store ${lastToVictim.toFixed(0)} ms after the stop`);
  t.deepEqual(
    failed.filter((s) => s.store !== victim).map((s) => s.error),
    [],
    "only deliveries sent to the stopped store fail",
  );
  t.true(lastFailure <= BOUND, `a delivery sent ${lastFailure.toFixed(0)} ms after the stop failed`);
  // Judged against what the load sent in that time, not a fixed count: a starved machine sends fewer.
  const sentLate = shots.filter((s) => since(s.at) > BOUND && s.at < resumedAt);
  const servedLate = sentLate.filter((s) => s.ok && s.redirectAt !== undefined);
  t.true(sentLate.length > 50, `${sentLate.length} deliveries sent between the bound and SIGCONT`);
  t.is(servedLate.length, sentLate.length, "the load went on while the store was stopped");
  // Cleared by its first good answer: it takes its share again soon after SIGCONT.
  const back = shots.filter((s) => s.at > resumedAt + BOUND && s.store === victim);
  t.true(back.length > 0, "the resumed store serves again");
  t.true(back.every((s) => s.ok));
});

test.serial("a disk that stops serving the health file: the store is suspect for deliveries while its node answers /ping", async (t) => {
  const c = cluster();
  const victim = busiest();
  const held = files.filter((f) => holders(c, f).includes(victim));
  const file = path.join(storeRoot(c, victim), DISK_HEALTH_FILE);
  t.teardown(() => chmodSync(file, 0o644));
  await until("deliveries from the store", async () => (await pacedLoad(c, held, { perSecond: 40, clients: 4, ms: 500 })).some((s) => s.store === victim), 10_000, 0);

  // nginx (its workers run as nobody under root) can no longer read the file; without root, neither can the node.
  const brokenAt = performance.now();
  chmodSync(file, 0);
  const shots = await pacedLoad(c, held, { perSecond: 40, clients: 4, ms: BOUND + 2000 });
  const toVictim = shots.filter((s) => s.store === victim).map((s) => s.redirectAt! - brokenAt);
  t.log(`disk: last redirect to the store ${Math.max(0, ...toVictim).toFixed(0)} ms after its health file became unreadable`);
  t.true(toVictim.every((ms) => ms <= BOUND), `redirects to it at ${toVictim.map((ms) => ms.toFixed(0)).join(", ")} ms`);
  t.true(shots.every((s) => s.ok), "its files come from the other holders");
  t.true(shots.filter((s) => s.at - brokenAt > BOUND).length > 50);

  const api = c.info.stores.find((s) => s.name === victim)!.url;
  const ping = await request(`${api}/ping`, { signal: AbortSignal.timeout(2000) });
  t.is(ping.statusCode, 200);
  t.deepEqual(await ping.body.json(), { pong: "pong" });

  chmodSync(file, 0o644);
  await until("deliveries from the store again", async () => (await pacedLoad(c, held, { perSecond: 40, clients: 4, ms: 500 })).some((s) => s.store === victim), BOUND + 5000, 0);
});

test.serial("SIGSTOP a store during uploads: they complete on the other candidates", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const datas = Array.from({ length: 3 }, () => randomBytes(3 * 1024 * 1024));
  const uploads = datas.map((d, i) => slowUpload(c.info.prisms[i % 2]!.url, client.token!, d));
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
  const stoppedAt = performance.now();
  signalStore(c, victim!, "SIGSTOP");
  const outcomes = await Promise.all(uploads);
  const ms = performance.now() - stoppedAt;
  signalStore(c, victim!, "SIGCONT");
  t.log(`upload hang: every upload answered ${ms.toFixed(0)} ms after the stop`);

  for (const [i, outcome] of outcomes.entries()) {
    t.is(outcome.status, 200, `upload ${i}: ${JSON.stringify(outcome.body)}`);
    const reply = (outcome.body.files as Record<string, { hash: string; copies: string[] }>).file!;
    const hash = sha1(datas[i]!);
    t.is(reply.hash, hash);
    const stores = reply.copies.map((x) => x.split(":")[1]!).sort();
    t.is(stores.length, 2, `upload ${i}: ${reply.copies.join(", ")}`);
    t.false(stores.includes(victim!), `upload ${i} counted the stopped ${victim}`);
    const f = { hash, data: datas[i]!, token: "", relativePath: relativePath(hash, "bin") };
    t.deepEqual(holders(c, f, stores).sort(), stores, `upload ${i}: every listed copy is on disk and correct`);
  }
  // Well inside the transport's own timeouts (30 s without progress): a stall time or a missed probe, then a copy.
  const { failoverTimeoutMs } = ConfigSchema.properties.limits.properties;
  t.true(ms < failoverTimeoutMs.default + BOUND + 3000, `the uploads took ${ms.toFixed(0)} ms after the stop`);
});

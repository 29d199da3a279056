import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { Redis } from "ioredis";
import { request } from "undici";
import { PrismClient } from "../../packages/client/src/index.js";
import { purchaseKey, toRedisHash } from "../../app/core/purchase.js";
import { mintToken } from "../../app/core/purchase.js";
import { type TestCluster, useCluster } from "../helpers/cluster.js";
import { deliver, percentile, type Stored, storeFiles, until } from "../helpers/fault.js";
import { loggedIn } from "../helpers/prism.js";

// SIGKILL the Redis primary under a stream of purchases and a paced stream of
// deliveries, through the front nginx and straight to the prisms: Sentinel
// promotes the replica, the prisms follow it within seconds, every purchase
// and login acknowledged before (or after) the kill is still there, and no
// delivery of a purchase the prisms had seen fails. Their copies go stale
// after half a second here, so the failover runs on stale copies.

const cluster = useCluster(test, {
  storeRate: { requestsPerSecond: 100_000, burst: 100_000 },
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? { OOSE_PURCHASE__CACHE_LIFE: "500" } : {}),
});

interface Attempt {
  at: number;
  done: number;
  ok: boolean;
  token?: string;
  file: Stored;
  error?: string;
}

interface Delivered {
  at: number;
  ok: boolean;
  via: "front" | "prism";
  error?: string;
}

/** A user's delivery from `base` (the front or a prism): the redirect, then the bytes from the store's nginx. */
async function deliverAt(base: string, file: Stored): Promise<{ ok: boolean; error?: string }> {
  try {
    const res = await request(`${base}/${file.token}/f.bin`, { signal: AbortSignal.timeout(5000) });
    const body = await res.body.text();
    if (res.statusCode !== 302) return { ok: false, error: `${res.statusCode} ${body.slice(0, 120)}` };
    const bytes = await request(String(res.headers.location), { signal: AbortSignal.timeout(5000) });
    const data = Buffer.from(await bytes.body.arrayBuffer());
    if (bytes.statusCode !== 200) return { ok: false, error: `nginx answered ${bytes.statusCode}` };
    return data.equals(file.data) ? { ok: true } : { ok: false, error: "wrong bytes" };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** `workers` users, each a delivery every `paceMs` or so, in turn through the front and each prism; at most `max` in all. */
function pacedDeliveries(c: TestCluster, files: Stored[], workers: number, paceMs: number, max: number) {
  const targets = [c.info.front!, ...c.info.prisms.map((p) => p.url)];
  const results: Delivered[] = [];
  let stopped = false;
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stopped && results.length < max; i++) {
      const target = targets[(w + i) % targets.length]!;
      const at = performance.now();
      const d = await deliverAt(target, files[(w * 7 + i) % files.length]!);
      results.push({ at, via: target === c.info.front ? "front" : "prism", ...d });
      await sleep(paceMs);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return results;
    },
  };
}

/** Purchases of `file` written straight to Redis, as another prism would have: no prism has a copy of them. */
async function purchasesNobodySaw(redis: Redis, file: Stored, count: number): Promise<Stored[]> {
  const out: Stored[] = [];
  const pipe = redis.pipeline();
  for (let i = 0; i < count; i++) {
    const purchase = { token: mintToken(), hash: file.hash, ext: "bin", referrer: [], life: 3_600_000, expirationDate: Date.now() + 3_600_000 };
    pipe.hset(purchaseKey("oose", purchase.token), toRedisHash(purchase)).pexpire(purchaseKey("oose", purchase.token), 7_200_000);
    out.push({ ...file, token: purchase.token });
  }
  await pipe.exec();
  return out;
}

/** Each purchase delivered once through the front, one every `paceMs`: a prism serving it has never seen it. */
function firstDeliveries(c: TestCluster, purchases: Stored[], paceMs: number) {
  const results: Delivered[] = [];
  let stopped = false;
  const loop = (async () => {
    for (const p of purchases) {
      if (stopped) break;
      const at = performance.now();
      results.push({ at, via: "front", ...(await deliverAt(c.info.front!, p)) });
      await sleep(paceMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return results;
    },
  };
}

test.serial("SIGKILL the Redis primary: Sentinel fails over; deliveries never fail, purchases and sessions keep working, none lost", async (t) => {
  const c = cluster();
  const clients: PrismClient[] = [];
  for (let i = 0; i < 6; i++) clients.push(await loggedIn(c, i % 2));
  // A buyer through the front too: its refusals during the failover must not take the prisms out of the front's rotation.
  const viaFront = new PrismClient({ baseUrl: c.info.front! });
  await viaFront.login(c.info.admin.username, c.info.admin.password);
  const files: Stored[] = await storeFiles(clients[0]!, 8, 4096);
  // Every prism has seen every purchase the load asks for.
  for (const file of files) for (const p of c.info.prisms.keys()) t.like(await deliver(c, p, file), { ok: true });
  const load = pacedDeliveries(c, files, 4, 10, 20_000);
  const { sentinels, name } = c.info.redis;
  const redis = new Redis({ sentinels, name, maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
  t.teardown(() => redis.disconnect());
  const unseen = firstDeliveries(c, await purchasesNobodySaw(redis, files[0]!, 400), 20);
  const attempts: Attempt[] = [];
  let stop = false;
  const buyer = async (client: PrismClient, w: number) => {
    for (let i = 0; !stop && i < 10_000; i++) {
      const at = performance.now();
      const file = files[(w + i) % files.length]!;
      try {
        const p = await client.purchase({ hash: file.hash, ext: "bin" });
        attempts.push({ at, done: performance.now(), ok: true, token: p.token, file });
      } catch (err) {
        const e = err as { status?: number; code?: string; message: string };
        attempts.push({ at, done: performance.now(), ok: false, file, error: `${e.status} ${e.code}: ${e.message}` });
        await sleep(50);
      }
    }
  };
  const buyers = [buyer(clients[0]!, 0), buyer(clients[1]!, 1), buyer(viaFront, 2)];
  await sleep(1500);
  const killedAt = performance.now();
  c.kill("redis-primary", "SIGKILL");
  let failoverMs = 0;
  try {
    await until(
      "a purchase acknowledged after the kill",
      async () => attempts.some((a) => a.ok && a.at > killedAt),
      30_000,
      20,
    );
    failoverMs = Math.min(...attempts.filter((a) => a.ok && a.at > killedAt).map((a) => a.done)) - killedAt;
    await sleep(1500);
  } finally {
    stop = true;
    await Promise.all(buyers);
  }
  const delivered = await load.stop();
  const firsts = await unseen.stop();
  const acked = attempts.filter((a) => a.ok);
  const failed = attempts.filter((a) => !a.ok);
  const latencies = acked.filter((a) => a.at < killedAt).map((a) => a.done - a.at);
  t.log(`redis failover: first purchase acknowledged ${failoverMs.toFixed(0)} ms after SIGKILL of the primary`);
  t.log(
    `redis failover: ${acked.length} purchases acknowledged (p50 ${percentile(latencies, 50).toFixed(1)} ms before the kill), ` +
      `${failed.length} refused during the failover (${[...new Set(failed.map((f) => f.error))].join("; ")})`,
  );
  t.true(failoverMs > 0 && failoverMs < 15_000);
  t.true(acked.filter((a) => a.at > killedAt + failoverMs).length > 5, "purchases keep working after the failover");
  t.true(failed.every((a) => a.at > killedAt - 100 && a.done < killedAt + failoverMs + 100), "refusals only during the failover");
  t.true(
    failed.every((a) => /^503 [A-Z_]+:/.test(a.error ?? "")),
    `refusals are 503s with a code: ${[...new Set(failed.map((f) => f.error))].join("; ")}`,
  );

  const during = delivered.filter((d) => d.at > killedAt && d.at < killedAt + failoverMs);
  const undelivered = delivered.filter((d) => !d.ok);
  t.log(
    `redis failover: ${delivered.length} deliveries (${during.length} during the failover, ` +
      `${during.filter((d) => d.via === "front").length} of them through the front), ${undelivered.length} failed`,
  );
  t.deepEqual(
    undelivered.slice(0, 5).map((d) => `${d.via} ${(d.at - killedAt).toFixed(0)} ms after the kill: ${d.error}`),
    [],
    `${undelivered.length} deliveries of purchased files failed`,
  );
  t.true(during.some((d) => d.via === "front") && during.some((d) => d.via === "prism"), "deliveries ran through the failover");
  // A purchase no prism has seen cannot be checked while Redis is away: a 503 with a code, never a 502 from the front.
  const refusedFirsts = firsts.filter((d) => !d.ok);
  t.log(`redis failover: ${firsts.length} first deliveries through the front, ${refusedFirsts.length} refused`);
  t.deepEqual(
    refusedFirsts.filter((d) => !/^503 .*BACKEND_UNAVAILABLE/.test(d.error ?? "") || d.at < killedAt - 100 || d.at > killedAt + failoverMs + 3000),
    [],
    "first deliveries refused only during the failover, and only by the prisms",
  );

  // Nothing acknowledged is lost: every purchase is in the promoted primary, and every login still works.
  const missing: string[] = [];
  for (const a of acked) if (!(await redis.exists(purchaseKey("oose", a.token!)))) missing.push(a.token!);
  t.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged purchases lost`);
  t.is(Number(/role:(\w+)/.exec(await redis.info("replication"))?.[1] === "master"), 1);
  for (const client of clients) t.like(await client.validate(), { success: "Session valid" });
  const late = await loggedIn(c, 1);
  t.like(await late.validate(), { success: "Session valid" }, "logins work on the promoted primary");
  const { token } = await late.purchase({ hash: files[0]!.hash, ext: "bin" });
  t.like(await deliver(c, 0, { ...files[0]!, token }), { ok: true }, "and deliveries");
  const early = acked.filter((a) => a.at < killedAt).at(-1)!;
  t.like(await deliver(c, 1, { ...early.file, token: early.token! }), { ok: true }, "a purchase made just before the kill");
});

import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { Redis } from "ioredis";
import type { PrismClient } from "../../app/client/prism.js";
import { purchaseKey } from "../../app/core/purchase.js";
import { useCluster } from "../helpers/cluster.js";
import { deliver, percentile, type Stored, storeFiles, until } from "../helpers/fault.js";
import { loggedIn } from "../helpers/prism.js";

// SIGKILL the Redis primary under a stream of purchases: Sentinel promotes the
// replica, the prisms follow it within seconds, and every purchase and login
// acknowledged before (or after) the kill is still there.

const cluster = useCluster(test);

interface Attempt {
  at: number;
  done: number;
  ok: boolean;
  token?: string;
  file: Stored;
  error?: string;
}

test.serial("SIGKILL the Redis primary: Sentinel fails over; purchases and sessions keep working, none lost", async (t) => {
  const c = cluster();
  const clients: PrismClient[] = [];
  for (let i = 0; i < 6; i++) clients.push(await loggedIn(c, i % 2));
  const files: Stored[] = await storeFiles(clients[0]!, 2, 4096);
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
        attempts.push({ at, done: performance.now(), ok: false, file, error: (err as Error).message });
        await sleep(50);
      }
    }
  };
  const buyers = [buyer(clients[0]!, 0), buyer(clients[1]!, 1)];
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

  // Nothing acknowledged is lost: every purchase is in the promoted primary, and every login still works.
  const { sentinels, name } = c.info.redis;
  const redis = new Redis({ sentinels, name, maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
  try {
    const missing: string[] = [];
    for (const a of acked) if (!(await redis.exists(purchaseKey("oose", a.token!)))) missing.push(a.token!);
    t.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged purchases lost`);
    t.is(Number(/role:(\w+)/.exec(await redis.info("replication"))?.[1] === "master"), 1);
  } finally {
    redis.disconnect();
  }
  for (const client of clients) t.like(await client.validate(), { success: "Session valid" });
  const late = await loggedIn(c, 1);
  t.like(await late.validate(), { success: "Session valid" }, "logins work on the promoted primary");
  const { token } = await late.purchase({ hash: files[0]!.hash, ext: "bin" });
  t.like(await deliver(c, 0, { ...files[0]!, token }), { ok: true }, "and deliveries");
  const early = acked.filter((a) => a.at < killedAt).at(-1)!;
  t.like(await deliver(c, 1, { ...early.file, token: early.token! }), { ok: true }, "a purchase made just before the kill");
});

import test from "ava";
import type { Redis } from "ioredis";
import { redisLeases } from "../../app/adapters/redis/lease.js";
import { HashLocks } from "../../app/core/hash-locks.js";

// The per-hash removal lock: one hold at a time per hash (two in one process
// included), released when the work ends or kept for a lease when told to,
// and no longer trusted once a lease's worth of time passed without a renewal.

/** Just enough of Redis for a Lease: SET NX PX, and the renew/release scripts (told apart by their command). */
function fakeRedis() {
  const keys = new Map<string, string>();
  let reachable = true;
  const redis = {
    set: async (key: string, value: string, _px: string, _ttl: number, _nx: string) => {
      if (keys.has(key)) return null;
      keys.set(key, value);
      return "OK";
    },
    eval: async (script: string, _n: number, key: string, owner: string) => {
      if (!reachable) throw new Error("Connection is closed.");
      if (keys.get(key) !== owner) return 0;
      if (script.includes('"del"')) keys.delete(key);
      return 1;
    },
  };
  return {
    redis: redis as unknown as Redis,
    keys,
    cut: () => {
      reachable = false;
    },
  };
}

test("a held hash is skipped by a second hold, even in the same process, and free again after", async (t) => {
  const { redis, keys } = fakeRedis();
  const locks = new HashLocks(redisLeases(redis), "oose", "prism1");
  let inner: unknown = "not run";
  const outer = await locks.with("abc", async () => {
    t.true(keys.has("oose:removing:abc"));
    inner = await locks.with("abc", async () => "ran");
    return "done";
  });
  t.deepEqual(outer, { value: "done" });
  t.is(inner, undefined, "the second hold did not run");
  t.false(keys.has("oose:removing:abc"), "released");
  t.deepEqual(await locks.with("abc", async () => 1), { value: 1 });
  t.deepEqual(await locks.with("other", async () => 2), { value: 2 }, "hashes are independent");
});

test("linger keeps the lease after the work instead of releasing it", async (t) => {
  const { redis, keys } = fakeRedis();
  const locks = new HashLocks(redisLeases(redis), "oose", "prism1");
  await locks.with("abc", async (lock) => lock.linger());
  t.true(keys.has("oose:removing:abc"));
  t.is(await locks.with("abc", async () => "ran"), undefined);
});

test("a hold stops being trusted once a lease passed without a renewal", async (t) => {
  const { redis, cut } = fakeRedis();
  let now = 1_000_000;
  const locks = new HashLocks(redisLeases(redis), "oose", "prism1", 30_000, () => now);
  await locks.with("abc", async (lock) => {
    t.true(lock.held());
    cut();
    now += 29_999;
    t.true(lock.held());
    now += 1;
    t.false(lock.held());
  });
});

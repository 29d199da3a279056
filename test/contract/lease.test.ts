import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { redisLeases } from "../../app/adapters/redis/lease.js";
import { MemoryLeases } from "../../app/adapters/memory/lease.js";
import type { Leases } from "../../app/core/ports/lease.js";
import { contract, useRedis } from "../helpers/contract.js";

// One body of tests for the Lease port, against Redis (a real redis-server)
// and the memory leases: one holder at a time, renewals and releases only
// by the holder, and a lease that is not renewed runs out.

const redis = useRedis(test);
let keys = 0;

interface Impl {
  leases: Leases;
  /** Lets `ms` pass for the leases. */
  advance(ms: number): Promise<void>;
}

const TTL = 400;

contract<Impl>(
  test,
  [
    { name: "redis", make: async () => ({ port: { leases: redisLeases(await redis()), advance: (ms) => sleep(ms) } }) },
    {
      name: "memory",
      make: async () => {
        let now = 1_000_000;
        const advance = async (ms: number) => {
          now += ms;
        };
        return { port: { leases: new MemoryLeases(() => now), advance } };
      },
    },
  ],
  {
    "one holder at a time; taking it again renews it": async (t, { leases }) => {
      const key = `oose:test:lease:${++keys}`;
      const a = leases.lease(key, "a", TTL);
      const b = leases.lease(key, "b", TTL);
      t.like(a, { key, owner: "a" });
      t.true(await a.acquire());
      t.false(await b.acquire());
      t.false(await b.renew(), "only the holder renews");
      t.true(await a.acquire());
      await b.release();
      t.false(await b.acquire(), "only the holder releases");
      await a.release();
      t.true(await b.acquire());
      t.false(await a.renew());
      t.true(await leases.lease(`${key}:other`, "a", TTL).acquire(), "another key is another lease");
    },

    "a lease not renewed runs out and another takes it; a renewed one holds": async (t, { leases, advance }) => {
      const key = `oose:test:lease:${++keys}`;
      const a = leases.lease(key, "a", TTL);
      const b = leases.lease(key, "b", TTL);
      t.true(await a.acquire());
      await advance(TTL * 0.6);
      t.true(await a.renew());
      await advance(TTL * 0.6);
      t.false(await b.acquire(), "renewed before it ran out");
      await advance(TTL * 1.5);
      t.true(await b.acquire(), "run out");
      t.false(await a.renew(), "the old holder learns it lost the lease");
    },
  },
);

test("redis: the lease is the key, holding its owner, with the TTL", async (t) => {
  const conn = await redis();
  const key = `oose:test:lease:${++keys}`;
  t.true(await redisLeases(conn).lease(key, "prism1:x", 60_000).acquire());
  t.is(await conn.get(key), "prism1:x");
  const ttl = await conn.pttl(key);
  t.true(ttl > 50_000 && ttl <= 60_000);
});

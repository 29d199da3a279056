import { randomUUID } from "node:crypto";
import test from "ava";
import { MemoryHotCounts } from "../../app/adapters/memory/hot-counts.js";
import { RedisHotCounts } from "../../app/adapters/redis/hot-counts.js";
import type { HotCounts } from "../../app/core/ports/hot.js";
import { contract, eventually, useRedis } from "../helpers/contract.js";

// The HotCounts port (hot-content scaling): time buckets and extra-copy sets in Redis, and in memory.

const redis = useRedis(test);
const counts = (entries: Record<string, number>) => new Map(Object.entries(entries));

contract<HotCounts>(
  test,
  [
    { name: "memory", make: async () => ({ port: new MemoryHotCounts() }) },
    { name: "redis", make: async () => ({ port: new RedisHotCounts(await redis(), `c${randomUUID()}`) }) },
  ],
  {
    "rates sum the buckets asked for, at least min, most first, at most limit": async (t, hot) => {
      await hot.add(10, counts({ a: 5, b: 1 }), counts({}), 60_000);
      await hot.add(11, counts({ a: 2, b: 4, c: 9 }), counts({}), 60_000);
      await hot.add(12, counts({ z: 100 }), counts({}), 60_000);
      t.deepEqual(await hot.rates([10, 11], { min: 2, limit: 10 }), [
        ["c", 9],
        ["a", 7],
        ["b", 5],
      ]);
      t.deepEqual(await hot.rates([10, 11], { min: 6, limit: 1 }), [["c", 9]]);
      t.deepEqual(await hot.rates([13], { min: 1, limit: 10 }), []);
    },
    "store load sums the buckets asked for": async (t, hot) => {
      await hot.add(1, counts({ a: 1 }), counts({ store1: 3, store2: 1 }), 60_000);
      await hot.add(2, counts({}), counts({ store1: 2 }), 60_000);
      await hot.add(3, counts({}), counts({ store2: 50 }), 60_000);
      t.deepEqual(await hot.storeLoad([1, 2]), counts({ store1: 5, store2: 1 }));
    },
    "a bucket is gone once its life passes": async (t, hot) => {
      await hot.add(1, counts({ a: 3 }), counts({ store1: 3 }), 150);
      t.deepEqual(await hot.rates([1], { min: 1, limit: 10 }), [["a", 3]]);
      t.true(await eventually(async () => (await hot.rates([1], { min: 1, limit: 10 })).length === 0, 2000));
      t.deepEqual(await hot.storeLoad([1]), new Map());
    },
    "hot marks and extra copies are kept per hash until forgotten": async (t, hot) => {
      await hot.markHot(["a", "b"], 1000);
      await hot.markHot(["b"], 5000);
      t.deepEqual(await hot.hotUntil(2000), ["a"]);
      t.deepEqual((await hot.hotUntil(9000)).sort(), ["a", "b"]);
      await hot.addExtra("a", "store1");
      await hot.addExtra("a", "store2");
      await hot.addExtra("a", "store1");
      await hot.addExtra("b", "store3");
      t.deepEqual((await hot.extras("a")).sort(), ["store1", "store2"]);
      await hot.dropExtras("a", ["store2", "store9"]);
      t.deepEqual(await hot.extras("a"), ["store1"]);
      await hot.forget("a");
      t.deepEqual(await hot.extras("a"), []);
      t.deepEqual(await hot.hotUntil(9000), ["b"]);
      t.deepEqual(await hot.extras("b"), ["store3"], "forgetting one hash leaves the others");
    },
  },
);

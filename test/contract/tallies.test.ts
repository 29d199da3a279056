import { randomUUID } from "node:crypto";
import test from "ava";
import { MemoryTallies } from "../../app/adapters/memory/tallies.js";
import { RedisTallies } from "../../app/adapters/redis/tallies.js";
import type { Tallies } from "../../app/core/ports/tallies.js";
import { contract, useRedis } from "../helpers/contract.js";

// The Tallies port (a node's /stats counters): a Redis HASH, and memory.

const redis = useRedis(test);

contract<Tallies>(
  test,
  [
    { name: "memory", make: async () => ({ port: new MemoryTallies() }) },
    { name: "redis", make: async () => ({ port: new RedisTallies(await redis(), `c${randomUUID()}:counter`) }) },
  ],
  {
    "batches add up, per counter": async (t, tallies) => {
      t.deepEqual(await tallies.read(), {});
      await tallies.add(
        new Map([
          ["stat:prism:requests", 3],
          ["error:prism:status404", 1],
        ]),
      );
      await tallies.add(new Map([["stat:prism:requests", 2]]));
      t.deepEqual(await tallies.read(), { "stat:prism:requests": "5", "error:prism:status404": "1" });
    },
    "clear drops every counter, once": async (t, tallies) => {
      await tallies.add(new Map([["stat:prism:requests", 1]]));
      t.is(await tallies.clear(), 1);
      t.deepEqual(await tallies.read(), {});
      t.is(await tallies.clear(), 0);
    },
  },
);

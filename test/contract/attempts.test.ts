import { randomUUID } from "node:crypto";
import test from "ava";
import { MemoryAttempts } from "../../app/adapters/memory/attempts.js";
import { RedisAttempts } from "../../app/adapters/redis/attempts.js";
import type { AttemptCounters } from "../../app/core/ports/attempts.js";
import { contract, eventually, useRedis } from "../helpers/contract.js";

// The AttemptCounters port (failed-login limits): Lua in Redis, and in memory.

const redis = useRedis(test);

interface Subject {
  counters: AttemptCounters;
  /** Keys of this case only. */
  key: (name: string) => string;
}

contract<Subject>(
  test,
  [
    { name: "memory", make: async () => ({ port: { counters: new MemoryAttempts(), key: (n) => n } }) },
    {
      name: "redis",
      make: async () => {
        const prefix = `c${randomUUID()}`;
        return { port: { counters: new RedisAttempts(await redis()), key: (n) => `${prefix}:${n}` } };
      },
    },
  ],
  {
    "attempts pass up to the limit; past it the answer is the wait, within the window": async (
      t,
      { counters, key },
    ) => {
      const keys = [key("ip")];
      t.is(await counters.attempt(keys, 60_000, [2]), 0);
      t.is(await counters.attempt(keys, 60_000, [2]), 0);
      const wait = await counters.attempt(keys, 60_000, [2]);
      t.true(wait > 59_000 && wait <= 60_000, `wait ${wait}`);
    },
    "a refused attempt is not counted, and a count given back lets one more through": async (t, { counters, key }) => {
      const keys = [key("ip")];
      await counters.attempt(keys, 60_000, [1]);
      t.true((await counters.attempt(keys, 60_000, [1])) > 0);
      t.true((await counters.attempt(keys, 60_000, [1])) > 0, "still one counted, not three");
      await counters.giveBack(keys);
      t.is(await counters.attempt(keys, 60_000, [1]), 0);
    },
    "each key has its own limit, and one key past it refuses the attempt on all": async (t, { counters, key }) => {
      const keys = [key("ip"), key("user")];
      t.is(await counters.attempt(keys, 60_000, [1, 5]), 0);
      t.true((await counters.attempt(keys, 60_000, [1, 5])) > 0);
      t.is(await counters.attempt([key("user")], 60_000, [2]), 0, "the refused attempt did not count on the user key");
      t.true((await counters.attempt([key("user")], 60_000, [2])) > 0);
    },
    "a window ends, and a count given back after it stays gone": async (t, { counters, key }) => {
      const keys = [key("ip")];
      await counters.attempt(keys, 150, [1]);
      t.true((await counters.attempt(keys, 150, [1])) > 0);
      t.true(await eventually(async () => (await counters.attempt(keys, 150, [1])) === 0, 2000));
      await new Promise((r) => setTimeout(r, 250));
      await counters.giveBack(keys);
      t.is(await counters.attempt(keys, 60_000, [1]), 0);
      t.true((await counters.attempt(keys, 60_000, [1])) > 0, "no negative count was left to use up");
    },
  },
);

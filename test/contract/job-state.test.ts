import test from "ava";
import { MemoryJobState } from "../../app/adapters/memory/job-state.js";
import { RedisJobState } from "../../app/adapters/redis/job-state.js";
import type { JobState } from "../../app/core/ports/job-state.js";
import { contract, useRedis } from "../helpers/contract.js";

// One body of tests for the JobState port, against Redis (a real
// redis-server) and the memory state: records read back as written, in
// order, missing ones as undefined, and maps of entries; the Redis one
// keeps the records where the heal, repair and scrub always kept them.

const redis = useRedis(test);
let keys = 0;

contract<JobState>(
  test,
  [
    { name: "redis", make: async () => ({ port: new RedisJobState(await redis()) }) },
    { name: "memory", make: async () => ({ port: new MemoryJobState() }) },
  ],
  {
    "records read back as written; several at once, in order": async (t, state) => {
      const k = `oose:test:${++keys}`;
      t.is(await state.read(`${k}:a`), undefined);
      const status = { state: "healing", cursor: "ab", total: { copied: 3 }, lastHealedAt: undefined };
      await state.write(`${k}:a`, status);
      t.deepEqual(await state.read(`${k}:a`), { state: "healing", cursor: "ab", total: { copied: 3 } });
      status.cursor = "changed after the write";
      t.is((await state.read<typeof status>(`${k}:a`))!.cursor, "ab");
      await state.write(`${k}:b`, { n: 2 });
      await state.write(`${k}:a`, { n: 1 });
      t.deepEqual(await state.readMany([`${k}:b`, `${k}:missing`, `${k}:a`]), [{ n: 2 }, undefined, { n: 1 }]);
      t.deepEqual(await state.readMany([]), []);
    },

    "a map's entries are set, replaced and deleted one by one": async (t, state) => {
      const k = `oose:test:${++keys}:stores`;
      t.deepEqual(await state.entries(k), new Map());
      await state.setEntry(k, "s1", { since: "t1", complete: false });
      await state.setEntry(k, "s2", { since: "t2", complete: false });
      await state.setEntry(k, "s1", { since: "t1", complete: true });
      t.deepEqual(
        await state.entries(k),
        new Map([
          ["s1", { since: "t1", complete: true }],
          ["s2", { since: "t2", complete: false }],
        ]),
      );
      await state.deleteEntry(k, "s1");
      await state.deleteEntry(k, "nothing");
      t.deepEqual([...(await state.entries(k)).keys()], ["s2"]);
    },
  },
);

test("redis: a record is a JSON string under its key, a map a hash of JSON strings", async (t) => {
  const conn = await redis();
  const state = new RedisJobState(conn);
  await state.write("oose:heal:status", { state: "done" });
  t.is(await conn.get("oose:heal:status"), '{"state":"done"}');
  await state.setEntry("oose:repair:stores", "s1", { since: "x", complete: true });
  t.deepEqual(await conn.hgetall("oose:repair:stores"), { s1: '{"since":"x","complete":true}' });
  await conn.set("oose:scrub:s9", '{"state":"scrubbing","seen":4}');
  t.deepEqual(await state.read("oose:scrub:s9"), { state: "scrubbing", seen: 4 });
});

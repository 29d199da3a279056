import { randomUUID } from "node:crypto";
import test from "ava";
import { MemorySessions } from "../../app/adapters/memory/sessions.js";
import { RedisSessions } from "../../app/adapters/redis/sessions.js";
import { ReplicatedWrites } from "../../app/adapters/redis/wait.js";
import type { SessionStore, StoredSession } from "../../app/core/ports/sessions.js";
import { contract, eventually, useRedis } from "../helpers/contract.js";

// The SessionStore port: sessions in Redis (with WAIT on open) and in memory.

const redis = useRedis(test);

const session = (name: string): StoredSession => ({
  ip: "192.0.2.7",
  data: { userCtx: { name, roles: ["admin"] }, createdAt: new Date().toISOString() },
});

contract<SessionStore>(
  test,
  [
    { name: "memory", make: async () => ({ port: new MemorySessions() }) },
    {
      name: "redis",
      make: async () => {
        const conn = await redis();
        const writes = new ReplicatedWrites(conn, 0, 1000);
        return { port: new RedisSessions(conn, `c${randomUUID()}`, writes), close: () => writes.close() };
      },
    },
  ],
  {
    "an opened session reads back; an unknown id is undefined": async (t, store) => {
      const s = session("alice");
      await store.open("id-1", s, 60_000);
      t.deepEqual(await store.read("id-1"), s);
      t.is(await store.read("id-2"), undefined);
    },
    "a session ends with its life, unless extended": async (t, store) => {
      await store.open("short", session("alice"), 200);
      await store.open("kept", session("alice"), 200);
      await store.extend("kept", "alice", 60_000);
      t.true(await eventually(async () => (await store.read("short")) === undefined, 2000));
      t.truthy(await store.read("kept"));
    },
    "close ends one session": async (t, store) => {
      await store.open("a", session("alice"), 60_000);
      await store.open("b", session("alice"), 60_000);
      await store.close("a");
      t.is(await store.read("a"), undefined);
      t.truthy(await store.read("b"));
    },
    "closeAllOf ends every session of one user and no one else's": async (t, store) => {
      await store.open("a1", session("alice"), 60_000);
      await store.open("a2", session("alice"), 60_000);
      await store.open("b1", session("bob"), 60_000);
      await store.close("a2");
      t.is(await store.closeAllOf("alice"), 1, "only sessions still open are counted");
      t.is(await store.read("a1"), undefined);
      t.truthy(await store.read("b1"));
      t.is(await store.closeAllOf("alice"), 0);
    },
  },
);

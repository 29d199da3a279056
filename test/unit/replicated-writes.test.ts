import { setImmediate as tick } from "node:timers/promises";
import test from "ava";
import type { Redis } from "ioredis";
import { ReplicatedWrites } from "../../app/adapters/redis/wait.js";

// Group commit: one WAIT covers every write sent before it on the writes'
// connection, so writes made while a WAIT is on its way share the next one,
// and no write is acknowledged by a WAIT sent before it.

function fakeRedis(replicas = 1) {
  const log: string[] = [];
  const waits: ((acked: number) => void)[] = [];
  const conn = {
    duplicate: () => conn,
    info: async () => `# Replication\r\nrole:master\r\nconnected_slaves:${replicas}\r\n`,
    set: async (key: string) => {
      log.push(`set ${key}`);
      return "OK";
    },
    wait: (n: number) => {
      log.push(`wait ${n}`);
      return new Promise<number>((resolve) => waits.push(resolve));
    },
  };
  return { redis: conn as unknown as Redis, log, waits };
}

const settled = (p: Promise<unknown>) => {
  const state = { done: false, error: undefined as unknown };
  p.then(
    () => {
      state.done = true;
    },
    (err) => {
      state.error = err;
    },
  );
  return state;
};

test("writes made while a WAIT is out share the next WAIT, and only it acknowledges them", async (t) => {
  const { redis, log, waits } = fakeRedis();
  const writes = new ReplicatedWrites(redis, 1, 1000);
  const first = settled(writes.write("p", (c) => c.set("a", "v")));
  await tick();
  t.deepEqual(log, ["set a", "wait 1"]);
  const later = ["b", "c", "d"].map((k) => settled(writes.write("p", (c) => c.set(k, "v"))));
  await tick();
  t.deepEqual(log, ["set a", "wait 1", "set b", "set c", "set d", "wait 1"], "one WAIT for the three later writes");
  waits[0]!(1);
  await tick();
  t.true(first.done);
  t.false(later.some((s) => s.done), "the first WAIT was sent before them: it does not cover them");
  waits[1]!(1);
  await tick();
  t.true(later.every((s) => s.done));
});

test("a WAIT that fewer replicas answered fails every write it covers", async (t) => {
  const { redis, waits } = fakeRedis();
  const writes = new ReplicatedWrites(redis, 1, 1000);
  const both = [writes.write("p", (c) => c.set("a", "v")), writes.write("p", (c) => c.set("b", "v"))];
  await tick();
  t.is(waits.length, 1, "both writes were sent before the WAIT");
  waits[0]!(0);
  for (const p of both) await t.throwsAsync(p, { code: "BACKEND_UNAVAILABLE" });
});

test("without connected replicas the write is not held up", async (t) => {
  const { redis, log } = fakeRedis(0);
  const writes = new ReplicatedWrites(redis, 1, 1000);
  t.is(await writes.write("p", (c) => c.set("a", "v")), "OK");
  t.deepEqual(log, ["set a"]);
});

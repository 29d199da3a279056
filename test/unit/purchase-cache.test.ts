import test from "ava";
import type { Redis } from "ioredis";
import type { Channels } from "../../app/adapters/redis/channels.js";
import type { ReplicatedWrites } from "../../app/adapters/redis/wait.js";
import { type Purchase, toRedisHash } from "../../app/core/purchase.js";
import { BackendUnavailable } from "../../app/errors.js";
import { PURCHASE_CHANNEL, Purchases } from "../../app/prism/purchases.js";

// A prism's copies of purchases: fresh for cacheLife, read again after, and
// answering by themselves while Redis fails or stalls; change notices and
// gaps in the subscription keep them right.

const TOKEN = "T".repeat(64);
const purchase: Purchase = { token: TOKEN, hash: "a".repeat(40), ext: "txt", referrer: [], life: 60_000, expirationDate: 0 };

function setup() {
  let now = 1_000_000;
  const p = { ...purchase, expirationDate: now + 60_000 };
  const redis = {
    status: "ready",
    reads: 0,
    answer: (): Promise<Record<string, string>> => Promise.resolve(toRedisHash(p)),
    hgetall(): Promise<Record<string, string>> {
      this.reads++;
      return this.answer();
    },
  };
  const handlers: Record<string, (m: string) => void> = {};
  const resyncs: (() => void)[] = [];
  const channels = {
    on: (channel: string, h: (m: string) => void) => {
      handlers[channel] = h;
    },
    onResync: (h: () => void) => resyncs.push(h),
  };
  const purchases = new Purchases(
    redis as unknown as Redis,
    {} as ReplicatedWrites,
    { prefix: "oose", afterlife: 1000, cacheLife: 500, staleAfterMs: 30 },
    channels as unknown as Channels,
    () => now,
  );
  return {
    redis,
    purchases,
    p,
    notice: (token: string) => handlers[PURCHASE_CHANNEL("oose")]!(token),
    resync: () => {
      for (const h of resyncs) h();
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const outage = () => Promise.reject(new Error("connect ECONNREFUSED"));

test("a fresh copy answers without Redis; a stale one is read again", async (t) => {
  const s = setup();
  t.deepEqual(await s.purchases.get(TOKEN), s.p);
  t.deepEqual(await s.purchases.get(TOKEN), s.p);
  t.is(s.redis.reads, 1);
  s.advance(600);
  await s.purchases.get(TOKEN);
  t.is(s.redis.reads, 2);
});

test("while Redis fails, stalls or reconnects, a known purchase answers from its copy; an unknown one is a 503", async (t) => {
  const s = setup();
  await s.purchases.get(TOKEN);
  s.advance(600);
  s.redis.answer = outage;
  t.deepEqual(await s.purchases.get(TOKEN), s.p, "Redis failing");
  s.redis.answer = () => new Promise(() => undefined);
  t.deepEqual(await s.purchases.get(TOKEN), s.p, "Redis silent");
  s.redis.status = "reconnecting";
  const reads = s.redis.reads;
  t.deepEqual(await s.purchases.get(TOKEN), s.p, "Redis reconnecting");
  t.is(s.redis.reads, reads, "no read is queued behind a connection that is down");
  s.redis.status = "ready";
  s.redis.answer = outage;
  await t.throwsAsync(s.purchases.get("U".repeat(64)), { instanceOf: BackendUnavailable });
});

test("a copy lasts until the purchase expires; Redis's answer that it is gone drops it", async (t) => {
  const s = setup();
  await s.purchases.get(TOKEN);
  s.advance(59_000);
  s.redis.answer = outage;
  t.truthy(await s.purchases.get(TOKEN), "still there a second before expiry");
  s.redis.answer = () => Promise.resolve({});
  t.is(await s.purchases.get(TOKEN), undefined);
  s.redis.answer = outage;
  await t.throwsAsync(s.purchases.get(TOKEN), { instanceOf: BackendUnavailable }, "no copy left to answer from");
});

test("a change notice drops the copy, and a read already on its way is not kept", async (t) => {
  const s = setup();
  let release: (v: Record<string, string>) => void = () => undefined;
  s.redis.answer = () => new Promise((r) => (release = r));
  const pending = s.purchases.get(TOKEN);
  s.notice(TOKEN); // the purchase was removed while the read (which saw it) was on its way
  release(toRedisHash(s.p));
  t.truthy(await pending);
  s.redis.answer = () => Promise.resolve({});
  t.is(await s.purchases.get(TOKEN), undefined, "read again, not answered from the earlier read");
});

test("after a gap in the subscription every copy is read again, and still answers if Redis does not", async (t) => {
  const s = setup();
  await s.purchases.get(TOKEN);
  s.advance(10);
  s.resync();
  await s.purchases.get(TOKEN);
  t.is(s.redis.reads, 2);
  s.advance(10);
  s.resync();
  s.redis.answer = outage;
  t.deepEqual(await s.purchases.get(TOKEN), s.p);
});

import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import test from "ava";
import type { Redis } from "ioredis";
import { pino } from "pino";
import { watchPrimary } from "../../app/adapters/redis/index.js";
import { relativePath } from "../../app/core/layout.js";
import type { Purchase } from "../../app/core/purchase.js";
import { redisFailovers } from "../../app/metrics/index.js";
import { Delivery, type DeliveryDeps } from "../../app/prism/delivery.js";

// The prism's delivery decision log (token, hash, chosen store, status; all,
// some or none of them as deliveryLog.sample says) and the Redis failover
// counter, over stand-ins for their collaborators.

const HASH = "a03f181dc7dedcfb577511149b8844711efdb04f";
const TOKEN = "T".repeat(64);
const NOW = 1_800_000_000_000;

function delivery(o: { sample?: number; level?: string; expired?: boolean }) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const purchase: Purchase = {
    ...{ token: TOKEN, hash: HASH, ext: "txt", referrer: [], life: 60_000 },
    expirationDate: o.expired ? NOW - 1 : NOW + 60_000,
  };
  const copy = {
    ...{ hash: HASH, prism: "prism1", store: "store2", size: 16, mimeType: "text/plain", mimeExtension: "txt" },
    ...{ relativePath: relativePath(HASH, "txt"), createdAt: new Date(NOW).toISOString() },
  };
  const peer = { name: "store2", publicUrl: "http://store2.localhost" };
  const deps = {
    purchases: { get: async () => purchase },
    existence: { liveCopies: async () => [{ copy, peer }], copies: async () => [copy] },
    pool: {},
    counters: { inc() {} },
    domain: "localhost",
    signingKey: "0123456789abcdef0123",
    signedUrlLife: 60_000,
    log: pino({ level: o.level ?? "info" }, sink),
    logSample: o.sample,
  } as unknown as DeliveryDeps;
  const d = new Delivery(deps);
  const locate = () => d.locate({ token: TOKEN, filename: "f.txt", referer: undefined, proto: "http" }, NOW);
  return { locate, lines };
}

test("every decision is logged by default: token, hash, chosen store, status", async (t) => {
  const { locate, lines } = await delivery({});
  t.true((await locate()).startsWith("http://store2.localhost/"));
  t.is(lines.length, 1);
  t.like(lines[0], { msg: "delivery", token: TOKEN, hash: HASH, store: "store2", status: 302, level: 30 });
});

test("a refusal is logged with its status and no store", async (t) => {
  const { locate, lines } = await delivery({ expired: true });
  await t.throwsAsync(locate(), { message: /expired/i });
  t.is(lines.length, 1);
  t.like(lines[0], { token: TOKEN, hash: HASH, status: 410 });
  t.false("store" in lines[0]!);
});

test("deliveryLog.sample 0, or a level above info, logs nothing; a share between logs some", async (t) => {
  for (const o of [{ sample: 0 }, { level: "warn" }]) {
    const { locate, lines } = await delivery(o);
    for (let i = 0; i < 50; i++) await locate();
    t.is(lines.length, 0);
  }
  const { locate, lines } = await delivery({ sample: 0.5 });
  for (let i = 0; i < 400; i++) await locate();
  // 400 draws at one half: 120 or fewer, or 280 or more, is a chance below one in 10^15.
  t.true(lines.length > 120 && lines.length < 280, String(lines.length));
});

test("a failover is counted when the connection comes back on another primary, not on a reconnect", async (t) => {
  const redis = Object.assign(new EventEmitter(), { stream: { remoteAddress: "10.0.0.1", remotePort: 6379 } });
  watchPrimary(redis as unknown as Redis);
  const count = async () => (await redisFailovers.get()).values[0]?.value ?? 0;
  const before = await count();
  redis.emit("ready");
  redis.emit("ready");
  t.is(await count(), before, "the first primary, then a reconnect to it");
  redis.stream = { remoteAddress: "10.0.0.2", remotePort: 6379 };
  redis.emit("ready");
  t.is(await count(), before + 1);
});

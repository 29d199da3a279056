import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { StoreHealth } from "../../app/routing/health.js";
import { TokenBucket } from "../../app/core/bucket.js";
import type { Peer } from "../../app/core/peer.js";
import { withDeadline } from "../../app/prism/deadline.js";

// The pieces that let a prism route around a failing store before the
// heartbeat's vote: its own suspicion, hard deadlines, and the repair's cap.

test("the token bucket lets a burst through, then paces to the rate", (t) => {
  let now = 0;
  const bucket = new TokenBucket(1000, 1000, () => now);
  t.is(bucket.reserve(600), 0);
  t.is(bucket.reserve(400), 0);
  t.is(bucket.reserve(500), 500, "half a second of debt");
  now += 500;
  t.is(bucket.reserve(250), 250);
  t.is(new TokenBucket(0).reserve(1e12), 0, "0 is no cap");
});

test("a deadline fails a slow call and frees its late answer", async (t) => {
  let freed = false;
  const slow = sleep(200).then(() => "late");
  const err = await t.throwsAsync(
    withDeadline(slow, 20, "store9", () => {
      freed = true;
    }),
  );
  t.is((err as { code?: string }).code, "PEER_UNAVAILABLE");
  await slow;
  t.true(freed);
  t.is(await withDeadline(Promise.resolve(7), 1000, "store9", () => undefined), 7);
});

test("request and ping suspicion holds until an answer or its hold runs out", (t) => {
  let now = 0;
  const health = new StoreHealth({ holdMs: 1000, now: () => now });
  t.false(health.isSuspect("store1"));
  health.failed("store1");
  t.true(health.isSuspect("store1", "api"));
  t.true(health.isSuspect("store1", "public"));
  health.answered("store1");
  t.false(health.isSuspect("store1"));
  health.failed("store1", "ping");
  now += 1001;
  t.false(health.isSuspect("store1"), "expired");
});

test("suspect since a checkpoint: only a failure after it counts, and a lost nginx not for the API", (t) => {
  let now = 0;
  const health = new StoreHealth({ holdMs: 1000, now: () => now });
  health.failed("store1", "ping");
  const since = health.checkpoint();
  t.true(health.isSuspect("store1"));
  t.false(health.suspectSince("store1", since), "suspect before, nothing failed since");
  health.probed("store1", "public", "health file missing");
  t.false(health.suspectSince("store1", since, "api"), "a lost nginx keeps no API call away");
  t.true(health.suspectSince("store1", since, "public"));
  health.failed("store2");
  t.false(health.suspectSince("store1", since), "another store's failure");
  t.true(health.suspectSince("store2", since));
  health.failed("store1");
  t.true(health.suspectSince("store1", since), "failed again after the checkpoint");
  health.answered("store1");
  now += 1001;
  t.false(health.suspectSince("store1", since), "cleared");
});

const store = (name: string, api: number, pub: number): Peer =>
  ({
    key: `store:prism1:${name}`,
    type: "store",
    name,
    prism: "prism1",
    url: `https://127.0.0.1:${api}`,
    publicUrl: `http://127.0.0.1:${pub}`,
  }) as Peer;

interface Listener {
  server: net.Server;
  sockets: net.Socket[];
  port: number;
  /** Closes the server and every connection, as a dying process does. */
  kill(): void;
}

async function listen(port = 0): Promise<Listener> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.on("error", () => undefined);
    sockets.push(s);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    server,
    sockets,
    port: (server.address() as net.AddressInfo).port,
    kill() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  for (const started = Date.now(); !check(); await sleep(10)) if (Date.now() - started > ms) throw new Error("timeout");
}

test("a watch suspects an endpoint whose process goes away, and clears it when it is back", async (t) => {
  const api = await listen();
  let pub = await listen();
  const health = new StoreHealth({ retryMs: 20, maxRetryMs: 50 });
  t.teardown(() => {
    health.stop();
    api.kill();
    pub.kill();
  });
  health.track([store("store1", api.port, pub.port)]);
  await until(() => api.sockets.length > 0 && pub.sockets.length > 0);
  t.false(health.isSuspect("store1", "public"));

  // The nginx goes: redirects avoid the store at once; prism-to-store calls do not.
  pub.kill();
  await until(() => health.isSuspect("store1", "public"), 500);
  t.false(health.isSuspect("store1", "api"));

  pub = await listen(pub.port);
  await until(() => !health.isSuspect("store1", "public"));

  // The API goes: both kinds of call avoid it.
  api.kill();
  await until(() => health.isSuspect("store1", "api") && health.isSuspect("store1", "public"), 500);
  t.deepEqual(Object.keys(health.snapshot()), ["store1"]);
});

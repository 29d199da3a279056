import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { Redis } from "ioredis";
import { request } from "undici";
import { useCluster } from "../helpers/cluster.js";

// Slow and hostile clients against real nodes: stalled and dripping bodies,
// idle connections and the connection cap; slow but live uploads and imports
// still complete. The node limits are the defaults, except the stores' cap
// and the import timeouts, lowered so the tests stay short.

const STORE_CAP = 40;
const cluster = useCluster(test, {
  prisms: 1,
  storesPerPrism: 2,
  replicas: 2,
  http: true,
  extraEnv: (node): Record<string, string> =>
    node.role === "prism"
      ? { OOSE_RETRIEVE__ALLOW_PRIVATE: "true", OOSE_RETRIEVE__TIMEOUT_MS: "3000", OOSE_RETRIEVE__IDLE_MS: "2000" }
      : { OOSE_LIMITS__MAX_CONNECTIONS: String(STORE_CAP) },
});

const CLOSED_WITHIN_MS = 30_000;
const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");
const prismUrl = () => new URL(cluster().info.prisms[0]!.url);

/** A raw connection to `url`'s host and port, and when it closed (ms after opening; undefined while open). */
function connect(url: URL): { socket: net.Socket; closed: Promise<number>; answered: () => boolean } {
  const started = Date.now();
  const socket = net.connect(Number(url.port), url.hostname);
  let answer = false;
  socket.on("data", () => {
    answer = true;
  });
  socket.on("error", () => undefined);
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - started)));
  return { socket, closed, answered: () => answer };
}

/** Resolves with `p`'s value, or undefined after `ms`. */
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, sleep(ms).then(() => undefined)]);

/** Another client meanwhile: /ping answers promptly. */
async function responsive(): Promise<boolean> {
  const res = await request(`${prismUrl().origin}/ping`, { headersTimeout: 5000, bodyTimeout: 5000 });
  await res.body.dump();
  return res.statusCode === 200;
}

const LOGIN_HEAD = "POST /user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n";

test("a login whose body stalls after one byte is closed, and others are served meanwhile", async (t) => {
  const conn = connect(prismUrl());
  conn.socket.write(`${LOGIN_HEAD}{`);
  await sleep(1000);
  t.true(await responsive());
  const ms = await within(conn.closed, CLOSED_WITHIN_MS + 5000);
  conn.socket.destroy();
  t.truthy(ms, "the stalled connection is still open");
  t.true(ms! < CLOSED_WITHIN_MS, `closed after ${ms} ms`);
});

test("a login body that drips a byte at a time is cut off before it is complete", async (t) => {
  const conn = connect(prismUrl());
  conn.socket.write(LOGIN_HEAD);
  const body = JSON.stringify({ username: "someone", password: "x".repeat(30) }).padEnd(64, " ");
  let sent = 0;
  let ended: number | undefined;
  void conn.closed.then((ms) => {
    ended = ms;
  });
  // 64 bytes at one per 500 ms would take 32 s.
  while (sent < body.length && ended === undefined) {
    conn.socket.write(body[sent]!);
    sent++;
    await sleep(500);
  }
  const ms = await within(conn.closed, 5000);
  conn.socket.destroy();
  t.true(sent < body.length, "the whole body went through");
  t.false(conn.answered(), "the server answered a dripped body");
  t.truthy(ms);
  t.true(ms! < CLOSED_WITHIN_MS, `closed after ${ms} ms`);
});

test.serial("200 idle connections are closed, and the node serves others meanwhile", async (t) => {
  const conns = Array.from({ length: 200 }, (_, i) => {
    const conn = connect(prismUrl());
    // Half send nothing, half a request line and no more.
    if (i % 2) conn.socket.write("GET /ping HTTP/1.1\r\nHost: x\r\n");
    return conn;
  });
  t.teardown(() => {
    for (const c of conns) c.socket.destroy();
  });
  await sleep(1000);
  for (let i = 0; i < 3; i++) t.true(await responsive());
  const all = await within(Promise.all(conns.map((c) => c.closed)), CLOSED_WITHIN_MS);
  t.truthy(all, `${conns.filter((c) => !c.socket.destroyed).length} of 200 still open after ${CLOSED_WITHIN_MS} ms`);
  t.true(await responsive());
});

test("an upload that is slow but live is not cut off", async (t) => {
  const c = cluster();
  const data = randomBytes(64 * 1024);
  const boundary = "slowboundary";
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  async function* slowly() {
    yield Buffer.from(head);
    // 24 chunks 600 ms apart: longer than the body deadline of parsed bodies (10 s), never idle.
    const size = data.length / 24;
    for (let i = 0; i < 24; i++) {
      await sleep(600);
      yield data.subarray(i * size, (i + 1) * size);
    }
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  const res = await request(`${prismUrl().origin}/content/upload`, {
    method: "POST",
    headers: { ...c.prismAuth(), "content-type": `multipart/form-data; boundary=${boundary}` },
    body: Readable.from(slowly()),
  });
  const text = await res.body.text();
  t.is(res.statusCode, 200, text);
  t.true(text.includes(sha1(data)), text);
});

/** A loopback server for /content/retrieve whose behaviour each test picks. */
async function remote(t: { teardown(fn: () => void): void }, handle: http.RequestListener): Promise<string> {
  const server = http.createServer(handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.bin`;
}

async function retrieve(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${prismUrl().origin}/content/retrieve`, {
    method: "POST",
    headers: { ...cluster().prismAuth(), "content-type": "application/json" },
    body: JSON.stringify({ request: { url }, extension: "bin" }),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

test("an import from a slow but live server completes past the connect and headers timeout", async (t) => {
  const data = randomBytes(40_000);
  const url = await remote(t, async (_req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length });
    // 8 chunks 800 ms apart: 6.4 s in all, past the 3 s timeout, never 2 s idle.
    for (let i = 0; i < 8; i++) {
      res.write(data.subarray(i * 5000, (i + 1) * 5000));
      await sleep(800);
    }
    res.end();
  });
  const got = await retrieve(url);
  t.is(got.status, 200, JSON.stringify(got.body));
  t.is(got.body.hash, sha1(data));
});

test.serial("a remote that stalls, resets or cuts its body short answers 504 or 502 with a code", async (t) => {
  const half = randomBytes(20_000);
  const stalls = await remote(t, (_req, res) => {
    res.writeHead(200, { "content-length": half.length * 2 });
    res.write(half);
  });
  const resets = await remote(t, (req, res) => {
    res.writeHead(200, { "content-length": half.length * 2 });
    res.write(half, () => setTimeout(() => req.socket.resetAndDestroy(), 200));
  });
  const short = await remote(t, (req, res) => {
    res.writeHead(200, { "content-length": half.length * 2 });
    res.write(half, () => setTimeout(() => req.socket.end(), 200));
  });
  const refused = await remote(t, (req) => req.socket.resetAndDestroy());
  for (const [what, url, status, code] of [
    ["stalled", stalls, 504, "UPSTREAM_TIMEOUT"],
    ["reset", resets, 502, "UPSTREAM_FAILED"],
    ["truncated", short, 502, "UPSTREAM_FAILED"],
    ["reset before answering", refused, 502, "UPSTREAM_FAILED"],
  ] as const) {
    const got = await retrieve(url);
    t.is(got.status, status, `${what}: ${JSON.stringify(got.body)}`);
    t.like(got.body, { code }, what);
    t.is(typeof got.body.error, "string", what);
  }
});

test.serial("/healthz shares its probes: 100 calls at once reach Redis a handful of times", async (t) => {
  const { sentinels, name } = cluster().info.redis;
  const redis = new Redis({ sentinels, name, maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
  t.teardown(() => redis.disconnect());
  const pings = async () => Number(/cmdstat_ping:calls=(\d+)/.exec(await redis.info("commandstats"))?.[1] ?? 0);
  const before = await pings();
  const answers = await Promise.all(
    Array.from({ length: 100 }, async () => {
      const res = await request(`${prismUrl().origin}/healthz`);
      return ((await res.body.json()) as { status?: string }).status;
    }),
  );
  const sent = (await pings()) - before;
  t.true(answers.every((s) => s === "ok"), answers.join(","));
  // Sentinels ping the primary too, a few times a second.
  t.true(sent < 30, `${sent} pings for 100 health checks`);
});

test.serial("connections past a node's cap are closed at once", async (t) => {
  const store = new URL(cluster().info.stores[0]!.url);
  const conns = Array.from({ length: STORE_CAP * 2 }, () => connect(store));
  t.teardown(() => {
    for (const c of conns) c.socket.destroy();
  });
  await sleep(1500);
  const open = conns.filter((c) => !c.socket.destroyed && c.socket.readyState === "open").length;
  t.true(open <= STORE_CAP, `${open} connections open, cap ${STORE_CAP}`);
  t.true(open >= STORE_CAP / 2, `only ${open} connections open`);
});

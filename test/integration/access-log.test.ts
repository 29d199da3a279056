import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import test from "ava";
import { pino } from "pino";
import { request } from "undici";
import { accessLogFile, parseAccessLine } from "../../app/core/usage.js";
import { nginxBytesSent, nginxRequests } from "../../app/metrics/index.js";
import { AccessLogFollower } from "../../app/store/access-log.js";
import { type TestCluster, useCluster } from "../helpers/cluster.js";
import { loggedIn, storeRoot } from "../helpers/prism.js";

// The store nginx's access log, end to end on a local cluster: a delivery (the
// prism's redirect, then the store's nginx) writes exactly one JSON line with
// the token, hash, status and bytes, and the store node counts it in /metrics.
// Then the follower across a day's rotation, compression and the retention, in
// this process over files it is given.

const cluster = useCluster(test, {
  prisms: 1,
  storesPerPrism: 1,
  replicas: 1,
  extraEnv: (node): Record<string, string> => (node.role === "store" ? { OOSE_ACCESS_LOG__POLL_MS: "100" } : {}),
});

type Families = { name: string; metrics: { value: string; labels?: Record<string, string> }[] }[];
const parseProm = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Families;
const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");

const logLines = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith(".log"))
    .flatMap((n) => readFileSync(path.join(dir, n), "utf8").split("\n").filter(Boolean));

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The store's oose_nginx_* from its /metrics, parsed. */
async function scrape(c: TestCluster): Promise<{ requests: Record<string, number>; bytes: number }> {
  const res = await request(`${c.info.stores[0]!.url}/metrics`, { headers: c.storeAuth() });
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
  const families = parseProm(await res.body.text());
  const family = (name: string) => families.find((f) => f.name === name)?.metrics ?? [];
  return {
    requests: Object.fromEntries(family("oose_nginx_requests_total").map((m) => [m.labels!.status!, Number(m.value)])),
    bytes: Number(family("oose_nginx_bytes_sent_total")[0]?.value ?? 0),
  };
}

test.serial(
  "a delivery through the store's nginx writes one JSON line, and the store's /metrics counts it",
  async (t) => {
    const c = cluster();
    const logDir = path.join(storeRoot(c, "store1"), "access-log");
    const data = randomBytes(123_457);
    const client = await loggedIn(c);
    await client.upload([{ name: "data.bin", data, type: "application/octet-stream" }]);
    const { token } = await client.purchase({ hash: sha1(data), ext: "bin" });
    const headers = { referer: "https://shop.example/page", "user-agent": "oose-test/1" };
    const redirect = await request(`${c.info.prisms[0]!.url}/${token}/data.bin`, { headers });
    await redirect.body.dump();
    t.is(redirect.statusCode, 302);
    const link = new URL(redirect.headers.location as string);
    t.is(link.searchParams.get("token"), token, "the prism puts the purchase token in the link");
    const res = await request(link, { headers });
    t.is(res.statusCode, 200);
    t.deepEqual(Buffer.from(await res.body.arrayBuffer()), data);

    const [line] = await until("the log line", () => {
      const lines = logLines(logDir);
      return lines.length > 0 ? lines : undefined;
    });
    const parsed = parseAccessLine(line!);
    t.truthy(parsed, line);
    t.deepEqual(readdirSync(logDir), [accessLogFile(parsed!.line.time.slice(0, 10))], "named by the day of its line");
    t.like(parsed!.line, {
      store: "store1",
      client: "127.0.0.1",
      method: "GET",
      path: link.pathname,
      token,
      hash: sha1(data),
      status: 200,
      bytes: data.length,
      referer: "https://shop.example/page",
      user_agent: "oose-test/1",
    });
    t.true(Math.abs(parsed!.at - Date.now()) < 60_000);
    t.is(logLines(logDir).length, 1, "exactly one line for one request; the probes' requests are not logged");

    const m = await until("the counters", async () => {
      const s = await scrape(c);
      return s.requests["200"] === 1 ? s : undefined;
    });
    t.deepEqual(m, { requests: { 200: 1 }, bytes: data.length });

    // A refused link is logged too: what nginx sent (its error page) is what is counted.
    link.searchParams.set("md5", "AAAAAAAAAAAAAAAAAAAAAA");
    const bad = await request(link);
    await bad.body.dump();
    t.is(bad.statusCode, 403);
    const lines = await until("the second line", () => {
      const l = logLines(logDir);
      return l.length === 2 ? l.map((x) => parseAccessLine(x)!.line) : undefined;
    });
    t.like(lines[1], { status: 403, token, hash: sha1(data) });
    const after = await until("the 403 counted", async () => {
      const s = await scrape(c);
      return s.requests["403"] === 1 ? s : undefined;
    });
    t.deepEqual(after, { requests: { 200: 1, 403: 1 }, bytes: data.length + lines[1]!.bytes });
  },
);

const counted = async () => ({
  requests: Object.fromEntries((await nginxRequests.get()).values.map((v) => [String(v.labels.status), v.value])),
  bytes: (await nginxBytesSent.get()).values[0]?.value ?? 0,
});
const entry = (status: number, bytes: number) =>
  JSON.stringify({
    time: new Date().toISOString(),
    store: "s",
    client: "192.0.2.1",
    method: "GET",
    path: "/c/x",
    token: "",
    hash: "",
    status,
    bytes,
    referer: "",
    user_agent: "",
    request_time: 0,
  });

test.serial(
  "the follower starts at the end, goes on across a day's rotation, then compresses and expires old days",
  async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), "oose-access-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const day1 = path.join(dir, accessLogFile("2026-12-01"));
    const day2 = path.join(dir, accessLogFile("2026-12-02"));
    writeFileSync(day1, `${entry(200, 1_000_000)}\n`);
    let now = Date.now();
    const follower = new AccessLogFollower({
      dir,
      pollMs: 1000,
      retentionDays: 10,
      compress: true,
      log: pino({ level: "silent" }),
      now: () => now,
    });
    const before = await counted();
    const delta = async () => {
      const c = await counted();
      const requests: Record<string, number> = {};
      for (const [k, v] of Object.entries(c.requests))
        if (v !== (before.requests[k] ?? 0)) requests[k] = v - (before.requests[k] ?? 0);
      return { requests, bytes: c.bytes - before.bytes };
    };

    await follower.poll();
    t.deepEqual(await delta(), { requests: {}, bytes: 0 }, "what was there before the node started is not counted");

    // A line written in two parts is counted once it is whole.
    const second = entry(206, 500);
    appendFileSync(day1, second.slice(0, 20));
    await follower.poll();
    t.deepEqual(await delta(), { requests: {}, bytes: 0 });
    appendFileSync(day1, `${second.slice(20)}\nnot a line\n`);
    await follower.poll();
    t.deepEqual(await delta(), { requests: { 206: 1 }, bytes: 500 });
    t.is(follower.malformed, 1);

    // Midnight: the last lines of the old day and the first of the new one, both read in one round.
    appendFileSync(day1, `${entry(200, 10)}\n`);
    writeFileSync(day2, `${entry(404, 150)}\n${entry(200, 40)}\n`);
    await follower.poll();
    t.deepEqual(await delta(), { requests: { 206: 1, 200: 2, 404: 1 }, bytes: 700 });
    appendFileSync(day2, `${entry(200, 1)}\n`);
    await follower.poll();
    t.deepEqual(await delta(), { requests: { 206: 1, 200: 3, 404: 1 }, bytes: 701 });

    // Housekeeping: the past day, settled, is gzipped whole (same lines, same mtime); the followed one stays.
    const old = (Date.now() - 5 * 86_400_000) / 1000;
    utimesSync(day1, old, old);
    const day1Text = readFileSync(day1, "utf8");
    now += 61_000;
    await follower.poll();
    t.deepEqual(readdirSync(dir).sort(), [`${path.basename(day1)}.gz`, path.basename(day2)]);
    t.is(gunzipSync(readFileSync(`${day1}.gz`)).toString(), day1Text);
    // Past the retention, counted from the last line: the old day goes; the followed file never does.
    now += 6 * 86_400_000;
    utimesSync(day2, old, old);
    await follower.poll();
    t.deepEqual(readdirSync(dir), [path.basename(day2)]);
    t.deepEqual(await delta(), { requests: { 206: 1, 200: 3, 404: 1 }, bytes: 701 }, "nothing counted twice");
  },
);

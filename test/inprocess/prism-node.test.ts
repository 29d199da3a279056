import test from "ava";
import { VERSION } from "../../app/version.js";
import {
  assertError,
  basic,
  buildCluster,
  FOX_SHA1,
  type InProcessCluster,
  PRISM_AUTH,
  STORE_AUTH,
  uploadFile,
} from "../helpers/inprocess.js";

// The prism's node routes in-process: /, /ping, /stats, /healthz, and the
// private /cache/flush and /cache/detail. (/metrics: routes.test.ts, where
// metrics are on for the whole process.)

const prismBasic = { authorization: basic(PRISM_AUTH) };
const post = (c: InProcessCluster, url: string, payload?: unknown, headers: Record<string, string> = prismBasic) =>
  c.prism.inject({ method: "POST", url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

test.serial("/: the welcome message with the version, GET and POST", async (t) => {
  const c = await buildCluster(t, { stores: 0 });
  for (const method of ["GET", "POST"] as const) {
    const res = await c.prism.inject({ method, url: "/" });
    t.is(res.statusCode, 200);
    t.regex(String(res.headers["content-type"]), /^application\/json/);
    t.deepEqual(res.json(), { message: `Welcome to OOSE version ${VERSION}` });
  }
});

test.serial("/ping: pong, GET and POST, no credentials needed", async (t) => {
  const c = await buildCluster(t, { stores: 0 });
  for (const method of ["GET", "POST"] as const) {
    const res = await c.prism.inject({ method, url: "/ping" });
    t.is(res.statusCode, 200);
    t.deepEqual(res.json(), { pong: "pong" });
  }
});

test.serial("/stats: the counters as nested strings, counting requests by route", async (t) => {
  const c = await buildCluster(t);
  await uploadFile(c, "basic");
  await post(c, "/content/detail", { hash: FOX_SHA1 });
  await post(c, "/content/detail", { hash: FOX_SHA1 });
  for (const method of ["GET", "POST"] as const) {
    const res = await c.prism.inject({ method, url: "/stats" });
    t.is(res.statusCode, 200);
    const prism = res.json().stat.prism;
    t.is(prism.content.detail, "2");
    t.is(prism.content.upload, "1");
    t.is(prism.content.bytesUploaded, "16");
    t.is(prism.route["POST/content/detail"], "2");
  }
});

test.serial("/healthz: 200 ok while both backends answer, 503 with the failing probe when not", async (t) => {
  const c = await buildCluster(t, { stores: 0 });
  const ok = await c.prism.inject({ method: "GET", url: "/healthz" });
  t.is(ok.statusCode, 200);
  t.like(ok.json(), { status: "ok", role: "prism", name: "prism1", couchdb: { ok: true }, redis: { ok: true } });
  t.is(typeof ok.json().couchdb.ms, "number");

  const down = await buildCluster(t, { stores: 0 });
  down.backends.checks.redis = async () => {
    throw new Error("redis is down");
  };
  const res = await down.prism.inject({ method: "GET", url: "/healthz" });
  t.is(res.statusCode, 503);
  t.like(res.json(), {
    status: "unavailable",
    role: "prism",
    couchdb: { ok: true },
    redis: { ok: false, error: "redis is down" },
  });
});

test.serial("unknown routes and methods are 404 NOT_FOUND with the error body", async (t) => {
  const c = await buildCluster(t, { stores: 0 });
  assertError(t, await c.prism.inject({ method: "GET", url: "/no/such/route/here" }), 404, "NOT_FOUND");
  assertError(t, await c.prism.inject({ method: "DELETE", url: "/ping" }), 404, "NOT_FOUND");
  assertError(t, await c.prism.inject({ method: "PUT", url: "/content/upload" }), 404, "NOT_FOUND");
});

// ---- /cache/detail and /cache/flush

test.serial("cache/detail: the cached existence hashes and the counters", async (t) => {
  const c = await buildCluster(t);
  await uploadFile(c, "basic");
  await post(c, "/content/detail", { hash: FOX_SHA1 });
  const res = await post(c, "/cache/detail", { command: "all" });
  t.is(res.statusCode, 200, res.body);
  const body = res.json();
  t.is(body.success, "ok");
  t.true(body.data.existence.hashes.includes(FOX_SHA1));
  t.is(body.data.stats.stat.prism.content.detail, "1");
  t.is(body.count, body.data.existence.size + Object.keys(body.data.stats).length);

  const existence = (await post(c, "/cache/detail", { command: "existence" })).json();
  t.truthy(existence.data.existence);
  t.false("stats" in existence.data);
  const stats = (await post(c, "/cache/detail", { command: "stats" })).json();
  t.truthy(stats.data.stats);
  t.false("existence" in stats.data);
});

test.serial("cache/flush: existence drops the cached records, stats the counters", async (t) => {
  const c = await buildCluster(t);
  await uploadFile(c, "basic");
  await post(c, "/content/detail", { hash: FOX_SHA1 });
  const cached = (await post(c, "/cache/detail", { command: "existence" })).json().data.existence.hashes;
  t.true(cached.includes(FOX_SHA1));

  const flushed = await post(c, "/cache/flush", { command: "existence" });
  t.is(flushed.statusCode, 200, flushed.body);
  t.deepEqual(flushed.json(), { success: "ok", count: cached.length });
  t.deepEqual((await post(c, "/cache/detail", { command: "existence" })).json().data.existence.hashes, []);
  // The counters stayed.
  t.is((await c.prism.inject({ method: "GET", url: "/stats" })).json().stat.prism.content.detail, "1");

  const stats = await post(c, "/cache/flush", { command: "stats" });
  t.is(stats.statusCode, 200);
  t.is(stats.json().success, "ok");
  t.is((await c.prism.inject({ method: "GET", url: "/stats" })).json().stat?.prism?.content?.detail, undefined);

  // The next lookup reads the inventory again and finds the same copies.
  const again = await post(c, "/content/detail", { hash: FOX_SHA1 });
  t.is(again.json().count, 2);
  const all = await post(c, "/cache/flush", { command: "all" });
  t.is(all.statusCode, 200);
  t.true(all.json().count >= 1);
});

test.serial("cache routes: private (basic auth only) and a known command only", async (t) => {
  const c = await buildCluster(t, { stores: 0 });
  const token = await c.login();
  for (const url of ["/cache/flush", "/cache/detail"]) {
    assertError(t, await post(c, url, { command: "all" }, {}), 401, "UNAUTHORIZED");
    assertError(t, await post(c, url, { command: "all" }, { "x-oose-token": token }), 401, "UNAUTHORIZED");
    assertError(t, await post(c, url, { command: "all" }, { authorization: basic(STORE_AUTH) }), 401, "UNAUTHORIZED");
    assertError(t, await post(c, url, { command: "everything" }), 400, "BAD_REQUEST");
    assertError(t, await post(c, url, {}), 400, "BAD_REQUEST");
  }
});

import test from "ava";
import {
  assertError,
  basic,
  buildCluster,
  FOX_SHA1,
  PRISM_AUTH,
  STORE_AUTH,
  uploadFile,
} from "../helpers/inprocess.js";

// GET /metrics on both roles, in a file of its own: metrics are on or off for
// the whole process (the last node built sets it), so these run one at a time.

test.serial("prism /metrics: Prometheus text behind the prism's basic auth, timing its routes", async (t) => {
  const c = await buildCluster(t, { metrics: true });
  await uploadFile(c, "basic");
  await c.prism.inject({
    method: "POST",
    url: "/content/detail",
    headers: { authorization: basic(PRISM_AUTH) },
    payload: { hash: FOX_SHA1 },
  });
  const res = await c.prism.inject({ method: "GET", url: "/metrics", headers: { authorization: basic(PRISM_AUTH) } });
  t.is(res.statusCode, 200);
  t.regex(String(res.headers["content-type"]), /^text\/plain/);
  t.regex(res.body, /# TYPE oose_http_request_duration_seconds histogram/);
  t.regex(
    res.body,
    /oose_http_request_duration_seconds_count\{[^}]*route="\/content\/detail"[^}]*status="200"[^}]*\} 1/,
  );
  t.regex(res.body, /oose_http_request_duration_seconds_count\{[^}]*route="\/content\/upload"/);

  assertError(t, await c.prism.inject({ method: "GET", url: "/metrics" }), 401, "UNAUTHORIZED");
  const storeAuth = { authorization: basic(STORE_AUTH) };
  assertError(t, await c.prism.inject({ method: "GET", url: "/metrics", headers: storeAuth }), 401, "UNAUTHORIZED");
  const token = await c.login();
  const session = { "x-oose-token": token };
  assertError(t, await c.prism.inject({ method: "GET", url: "/metrics", headers: session }), 401, "UNAUTHORIZED");
});

test.serial("store /metrics: Prometheus text behind the store's basic auth", async (t) => {
  const c = await buildCluster(t, { stores: 1, metrics: true });
  const s = c.stores[0]!;
  const res = await s.app.inject({ method: "GET", url: "/metrics", headers: { authorization: basic(STORE_AUTH) } });
  t.is(res.statusCode, 200);
  t.regex(String(res.headers["content-type"]), /^text\/plain/);
  t.regex(res.body, /# TYPE oose_http_request_duration_seconds histogram/);
  assertError(t, await s.app.inject({ method: "GET", url: "/metrics" }), 401, "UNAUTHORIZED");
  const prismAuth = { authorization: basic(PRISM_AUTH) };
  assertError(t, await s.app.inject({ method: "GET", url: "/metrics", headers: prismAuth }), 401, "UNAUTHORIZED");
});

test.serial("with metrics off there is no /metrics (404)", async (t) => {
  const c = await buildCluster(t, { stores: 1, metrics: false });
  const res = await c.prism.inject({ method: "GET", url: "/metrics", headers: { authorization: basic(PRISM_AUTH) } });
  t.is(res.statusCode, 404);
  t.is(c.stores[0]!.app.hasRoute({ method: "GET", url: "/metrics" }), false);
});

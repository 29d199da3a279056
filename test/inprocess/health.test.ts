import test from "ava";
import { buildCluster } from "../helpers/inprocess.js";

// Liveness and readiness on both roles: /livez asks no backend, so it stays
// 200 through a CouchDB or Redis outage (the container is not restarted);
// /readyz answers 503 BACKEND_UNAVAILABLE with the failing probe.

const down = (what: string) => async () => {
  throw new Error(`${what} is down`);
};

test("/livez and /readyz: 200 on the prism and a store while both backends answer", async (t) => {
  const c = await buildCluster(t, { stores: 1 });
  for (const [role, app] of [
    ["prism", c.prism],
    ["store", c.stores[0]!.app],
  ] as const) {
    const live = await app.inject({ method: "GET", url: "/livez" });
    t.is(live.statusCode, 200, role);
    t.like(live.json(), { status: "ok", role });
    t.true(Number.isInteger(live.json().uptimeS));
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    t.is(ready.statusCode, 200, role);
    t.like(ready.json(), { status: "ok", role, couchdb: { ok: true }, redis: { ok: true } });
  }
});

test("Redis down: /readyz is 503 BACKEND_UNAVAILABLE naming it, /livez stays 200", async (t) => {
  const c = await buildCluster(t, { stores: 1 });
  let redisCalls = 0;
  c.backends.checks.redis = async () => {
    redisCalls++;
    throw new Error("redis is down");
  };
  for (const app of [c.prism, c.stores[0]!.app]) {
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    t.is(ready.statusCode, 503);
    t.like(ready.json(), {
      code: "BACKEND_UNAVAILABLE",
      error: "Not ready: redis unavailable",
      couchdb: { ok: true },
      redis: { ok: false, error: "redis is down" },
    });
    const calls = redisCalls;
    const live = await app.inject({ method: "GET", url: "/livez" });
    t.is(live.statusCode, 200);
    t.is(redisCalls, calls, "liveness asks no backend");
  }
});

test("CouchDB and Redis down: /readyz names both", async (t) => {
  const c = await buildCluster(t, { stores: 0 });
  c.backends.checks.couchdb = down("couchdb");
  c.backends.checks.redis = down("redis");
  const ready = await c.prism.inject({ method: "GET", url: "/readyz" });
  t.is(ready.statusCode, 503);
  t.like(ready.json(), { code: "BACKEND_UNAVAILABLE", error: "Not ready: couchdb and redis unavailable" });
  t.is((await c.prism.inject({ method: "GET", url: "/livez" })).statusCode, 200);
});

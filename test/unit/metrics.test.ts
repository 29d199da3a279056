import { Value } from "@sinclair/typebox/value";
import test from "ava";
import { register } from "prom-client";
import { ConfigSchema, type Config } from "../../app/config.js";
import { useBasicAuth } from "../../app/http/auth.js";
import { MemoryTallies } from "../../app/adapters/memory/tallies.js";
import { createNodeApp } from "../../app/http/node.js";
import { hashFraction } from "../../app/jobs/scrub.js";
import { logger } from "../../app/log.js";
import { metricsRoute, routeLabel } from "../../app/metrics/http.js";
import { metricsState, opLabel } from "../../app/metrics/index.js";
import { dataSafety } from "../../app/metrics/safety.js";
import type { HealStatus } from "../../app/jobs/heal.js";
import type { RepairStatus } from "../../app/jobs/repair.js";
import { scrapeOf } from "../helpers/metrics.js";

// The pure parts of the metrics (labels that never carry an id, the scrub's
// progress from a hash) and metrics.enabled on a node app built in-process:
// on, /metrics is Prometheus text behind basic auth; off, it is a 404.

test("op labels keep the verb of a call and drop ids, hashes, counts and names", (t) => {
  t.is(opLabel("get store:prism1:store1"), "get");
  t.is(opLabel("put org.couchdb.user:alice"), "put");
  t.is(opLabel("inventory a03f181dc7dedcfb577511149b8844711efdb04f"), "inventory");
  t.is(opLabel("inventory of 12 hashes"), "inventory_of");
  t.is(opLabel("write 200 copies"), "write");
  t.is(opLabel("heal: list inventory"), "heal_list_inventory");
  t.is(opLabel("purchase create wait"), "purchase_create_wait");
  t.is(opLabel("session get"), "session_get");
  t.is(opLabel("1234"), "other");
});

test("route labels are templates, with deliver, static and unmatched named", (t) => {
  t.is(routeLabel("/:token/:filename"), "deliver");
  t.is(routeLabel("/static/:hash/:filename"), "static");
  t.is(routeLabel(undefined), "unmatched");
  t.is(routeLabel("/content/put/*"), "/content/put/*");
});

test("scrub progress is the place of the last hash reached among all hashes", (t) => {
  t.is(hashFraction("000000000000ffff"), 0);
  t.is(hashFraction("800000000000"), 0.5);
  t.true(hashFraction("ffffffffffffffffffff") > 0.999_999);
  t.is(hashFraction(undefined), 0);
  t.is(hashFraction("zz"), 0);
});

test("data safety: the last finished heal pass, raised by a repair that started after it", (t) => {
  const at = Date.parse("2026-01-01T12:00:00Z");
  const heal = { lastPass: { under: 3, noLive: 1, backlog: 2, at } } as HealStatus;
  const repair = (startedAt: string, state: RepairStatus["state"] = "repairing") =>
    ({ state, startedAt, failed: 4, unreachable: 2 }) as RepairStatus;
  t.deepEqual(dataSafety(undefined, undefined), { under: 0, noLive: 0, backlog: 0 });
  t.deepEqual(dataSafety(heal, undefined), { under: 3, noLive: 1, backlog: 2 });
  t.deepEqual(dataSafety(heal, repair("2026-01-01T12:01:00Z")), { under: 6, noLive: 2, backlog: 2 });
  t.deepEqual(
    dataSafety(heal, repair("2026-01-01T11:59:00Z")),
    { under: 3, noLive: 1, backlog: 2 },
    "older than the pass",
  );
  t.deepEqual(dataSafety(heal, repair("2026-01-01T12:01:00Z", "trimming")), { under: 3, noLive: 1, backlog: 2 });
  t.deepEqual(dataSafety({ state: "healing" } as HealStatus, repair("2026-01-01T12:01:00Z")), {
    ...{ under: 6, noLive: 2, backlog: 0 },
  });
});

const AUTH = { username: "prism", password: "prism-secret" };
const basic = `Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString("base64")}`;

/** A prism-shaped node app over stand-in backends that answer its health probes. */
async function nodeApp(enabled: boolean, couchUp = true) {
  const limits = Value.Default(ConfigSchema.properties.limits, {});
  const config = {
    role: "prism",
    name: "prism1",
    redis: { prefix: "oose" },
    limits,
    metrics: { enabled },
  } as unknown as Config;
  const checks = {
    couchdb: async () => {
      if (!couchUp) throw new Error("connect ECONNREFUSED");
    },
    redis: async () => "PONG",
  };
  const app = createNodeApp({ config, checks, tallies: new MemoryTallies(), log: logger("prism", "prism1") });
  metricsRoute(app, await useBasicAuth(app, AUTH));
  await app.ready();
  return app;
}

test.serial("metrics.enabled false: no /metrics (404) and no timing on the hot paths", async (t) => {
  const app = await nodeApp(false);
  t.teardown(() => app.close());
  t.false(metricsState.enabled);
  const res = await app.inject({ method: "GET", url: "/metrics", headers: { authorization: basic } });
  t.is(res.statusCode, 404);
});

test.serial(
  "metrics on: /metrics is Prometheus text behind basic auth, with request latency and backend health",
  async (t) => {
    const app = await nodeApp(true, false);
    t.teardown(() => app.close());
    t.is((await app.inject({ method: "GET", url: "/metrics" })).statusCode, 401);
    t.is(
      (await app.inject({ method: "GET", url: "/metrics", headers: { authorization: "Basic eDp5" } })).statusCode,
      401,
    );
    await app.inject({ method: "GET", url: "/ping" });
    await app.inject({ method: "GET", url: "/no/such/route" });
    const res = await app.inject({ method: "GET", url: "/metrics", headers: { authorization: basic } });
    t.is(res.statusCode, 200);
    t.is(res.headers["content-type"], register.contentType);
    const { types, samples } = scrapeOf(res.body);
    t.is(types.get("oose_http_request_duration_seconds"), "HISTOGRAM");
    const count = (route: string, status: string) =>
      samples.find(
        (m) =>
          m.name === "oose_http_request_duration_seconds_count" &&
          m.labels.route === route &&
          m.labels.method === "GET" &&
          m.labels.status === status,
      )?.value;
    t.is(count("/ping", "200"), 1);
    t.is(count("unmatched", "404"), 1);
    t.false(
      samples.some((m) => Object.values(m.labels).some((v) => v.includes("/no/such"))),
      "a URL never becomes a label",
    );
    const up = (backend: string) =>
      samples.find((m) => m.name === "oose_backend_up" && m.labels.backend === backend)?.value;
    t.is(up("redis"), 1);
    t.is(up("couchdb"), 0);
    t.true(types.has("nodejs_eventloop_lag_seconds"));
    t.true(types.has("nodejs_heap_size_used_bytes"));
  },
);

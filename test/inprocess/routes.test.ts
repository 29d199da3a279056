import { readFileSync } from "node:fs";
import test from "ava";
import type { NodeApp } from "../../app/http/node.js";
import {
  assertError,
  basic,
  buildCluster,
  FOX_SHA1,
  PRISM_AUTH,
  STORE_AUTH,
  uploadFile,
} from "../helpers/inprocess.js";

// Every route the prism and store apps register has an in-process test: the
// table below names, for each, the file that tests it and a string that file
// must contain (the request's path). A route added without a row fails here;
// so does a row whose route is gone. Metrics are on, so /metrics is registered
// (and tested here: metrics are on or off for the whole process, the last node
// built setting it, so every test of this file runs alone).
// Not in fastify's router, hence not here: the prism's raw delivery fast path,
// tested beside its fastify twin in prism-purchases.test.ts.

type Row = { file: string; mark?: string };

const PRISM: Record<string, Row> = {
  "GET /": { file: "prism-node", mark: 'url: "/"' },
  "POST /": { file: "prism-node", mark: 'url: "/"' },
  "GET /ping": { file: "prism-node" },
  "POST /ping": { file: "prism-node" },
  "GET /stats": { file: "prism-node" },
  "POST /stats": { file: "prism-node" },
  "GET /healthz": { file: "prism-node" },
  "GET /livez": { file: "health" },
  "GET /readyz": { file: "health" },
  "GET /metrics": { file: "routes" },
  "POST /cache/flush": { file: "prism-node" },
  "POST /cache/detail": { file: "prism-node" },
  "POST /content/upload": { file: "prism-content" },
  "POST /content/retrieve": { file: "prism-content" },
  "POST /content/detail": { file: "prism-content" },
  "POST /content/exists": { file: "prism-content" },
  "POST /content/download": { file: "prism-content" },
  "PUT /content/put/:file": { file: "prism-content", mark: "url: `/content/put/${" },
  "GET /static/:hash/:filename": { file: "prism-content", mark: "url: `/static/${" },
  "POST /content/list": { file: "prism-manage" },
  "POST /content/delete": { file: "prism-manage" },
  "POST /content/purchase": { file: "prism-purchases" },
  "POST /content/purchase/find": { file: "prism-purchases" },
  "POST /content/purchase/update": { file: "prism-purchases" },
  "POST /content/purchase/remove": { file: "prism-purchases" },
  "GET /:token/:filename": { file: "prism-purchases", mark: "deliver(c, `/${" },
  "POST /user/login": { file: "prism-users" },
  "POST /user/logout": { file: "prism-users" },
  "POST /user/session/validate": { file: "prism-users" },
  "POST /user/session/renew": { file: "prism-users" },
  "GET /openapi.json": { file: "openapi" },
  "GET /docs": { file: "openapi" },
  "GET /docs/": { file: "openapi" },
  "GET /docs/json": { file: "openapi" },
  "GET /docs/yaml": { file: "openapi" },
  "GET /docs/static/index.html": { file: "openapi" },
  "GET /docs/static/swagger-initializer.js": { file: "openapi" },
  "GET /docs/static/*": { file: "openapi", mark: '"/docs/static/no-such-asset.js"' },
  "GET /docs/*": { file: "openapi", mark: '"/docs/package.json"' },
  "GET /console": { file: "console" },
  "GET /console/": { file: "console" },
  "GET /console/:asset": { file: "console", mark: '"/console/console.css"' },
  "GET /console/api/cluster": { file: "console" },
};

const STORE: Record<string, Row> = {
  "GET /": { file: "store", mark: 'url: "/"' },
  "POST /": { file: "store", mark: 'url: "/"' },
  "GET /ping": { file: "store" },
  "POST /ping": { file: "store" },
  "GET /stats": { file: "store" },
  "POST /stats": { file: "store" },
  "GET /healthz": { file: "store" },
  "GET /livez": { file: "health" },
  "GET /readyz": { file: "health" },
  "GET /metrics": { file: "routes" },
  "PUT /content/put/*": { file: "store", mark: "url: `/content/put/${" },
  "PUT /content/stage/:id": { file: "store", mark: "url: `/content/stage/${" },
  "POST /content/commit": { file: "store" },
  "POST /content/abort": { file: "store" },
  "POST /content/download": { file: "store" },
  "POST /content/exists": { file: "store" },
  "POST /content/detail": { file: "store" },
  "POST /content/verify": { file: "store" },
  "POST /content/remove": { file: "store" },
  "POST /content/send": { file: "store" },
  "GET /openapi.json": { file: "openapi", mark: 'url: "/openapi.json"' },
};

/**
 * The routes an app registered, as "METHOD /path", from fastify's route tree (commonPrefix off: one line per
 * route node, each child's key appended to its parents'). HEAD twins of GET routes are fastify's own.
 * find-my-way prints a wildcard child as a bare "*", without the static prefix before it; such an entry is
 * resolved against the table's wildcard rows under its printed prefix through hasRoute (two wildcards under
 * one prefix, as /docs/* and /docs/static/*, print as one "*"), and left as printed (so failing) otherwise.
 */
function registered(app: NodeApp, table: Record<string, Row>): string[] {
  const tree = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const out = new Set<string>();
  for (const line of tree.split("\n")) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const key = m[2]!;
    const path = stack.join("") + key;
    stack.push(key);
    if (!m[3]) continue;
    const methods = m[3].split(", ");
    for (const method of methods) {
      if (method === "HEAD" && methods.includes("GET")) continue;
      if (key === "*") {
        // Every wildcard row under the printed prefix that the app has (find-my-way prints two as one "*").
        const prefix = path.slice(0, -1);
        const rows = Object.keys(table)
          .map((r) => r.split(" ") as [string, string])
          .filter(([m2, u]) => m2 === method && u.endsWith("*") && u.startsWith(prefix))
          .filter(([, u]) => app.hasRoute({ method, url: u }));
        for (const [, u] of rows) out.add(`${method} ${u}`);
        if (rows.length) continue;
      }
      const url = path;
      out.add(`${method} ${url}`);
    }
  }
  return [...out].sort();
}

function checkTable(t: import("ava").ExecutionContext, role: string, app: NodeApp, table: Record<string, Row>) {
  const routes = registered(app, table);
  t.true(routes.length > 10, `${role}: parsed ${routes.length} routes`);
  const missing = routes.filter((r) => !(r in table));
  const stale = Object.keys(table).filter((r) => !routes.includes(r));
  t.deepEqual(missing, [], `${role} routes without an in-process test`);
  t.deepEqual(stale, [], `${role} table rows for routes not registered`);
  for (const [route, row] of Object.entries(table)) {
    const source = readFileSync(new URL(`./${row.file}.test.ts`, import.meta.url), "utf8");
    const mark = row.mark ?? `"${route.split(" ")[1]}"`;
    t.true(source.includes(mark), `${role} ${route}: ${row.file}.test.ts has no ${mark}`);
  }
}

test.serial("every prism route has an in-process test", async (t) => {
  const c = await buildCluster(t, { stores: 1, metrics: true });
  checkTable(t, "prism", c.prism, PRISM);
});

test.serial("every store route has an in-process test", async (t) => {
  const c = await buildCluster(t, { stores: 1, metrics: true });
  checkTable(t, "store", c.stores[0]!.app, STORE);
});

test.serial("the route reader flags a route the table lacks, wildcard routes included", async (t) => {
  const c = await buildCluster(t, { stores: 1, metrics: true });
  const app = c.stores[0]!.app;
  const table = { ...STORE };
  delete table["POST /content/send"];
  delete table["PUT /content/put/*"];
  const routes = registered(app, table);
  t.true(routes.includes("POST /content/send"));
  // Without its row, the wildcard route stays as find-my-way prints it: still a route missing from the table.
  t.true(routes.includes("PUT /*"));
  t.false(routes.includes("PUT /content/put/*"));
  t.true(registered(app, STORE).includes("PUT /content/put/*"));
  t.false(routes.some((r) => r.startsWith("HEAD ")));
});

// ---- GET /metrics

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

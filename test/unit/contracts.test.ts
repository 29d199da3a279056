import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { TSchema } from "@sinclair/typebox";
import test from "ava";
import Fastify, { type RouteOptions } from "fastify";
import pino from "pino";
import { loadConfig } from "../../app/config.js";
import { ErrorBody, Health, nodeReplies } from "../../app/contracts/common.js";
import { prismRoutes } from "../../app/contracts/prism.js";
import { storeRoutes } from "../../app/contracts/store.js";
import { existenceRecord } from "../../app/core/existence.js";
import { copyDoc } from "../../app/core/inventory.js";
import { toRedisHash } from "../../app/core/purchase.js";
import { createNodeApp, type NodeApp } from "../../app/http/node.js";
import { metricsRoute } from "../../app/metrics/http.js";
import { consoleRoutes } from "../../app/prism/console/routes.js";
import type { PrismContext } from "../../app/prism/context.js";
import { cacheRoutes } from "../../app/prism/routes/cache.js";
import { contentRoutes as prismContentRoutes } from "../../app/prism/routes/content.js";
import { deliverRoutes } from "../../app/prism/routes/deliver.js";
import { purchaseRoutes } from "../../app/prism/routes/purchase.js";
import { putRoutes } from "../../app/prism/routes/put.js";
import { retrieveRoutes, uploadRoutes as prismUploadRoutes } from "../../app/prism/routes/upload.js";
import { userRoutes } from "../../app/prism/routes/user.js";
import type { StoreContext } from "../../app/store/context.js";
import { contentRoutes as storeContentRoutes } from "../../app/store/routes/content.js";
import { uploadRoutes as storeUploadRoutes } from "../../app/store/routes/upload.js";

// Every route of both roles declares its replies (app/contracts). The routes
// are registered on a node app over stub backends: nothing calls a backend
// while routes register, and ready() compiles every schema, serialisers included.

const env = {
  OOSE_NAME: "node1",
  OOSE_PRISM: "prism1",
  OOSE_ADVERTISE_URL: "http://127.0.0.1:5972",
  OOSE_DATA_ROOT: "/srv/oose/node1",
  OOSE_COUCHDB__URL: "http://127.0.0.1:5984",
  OOSE_REDIS__SENTINELS: '[{"host":"127.0.0.1","port":26379}]',
  OOSE_AUTH__PRISM__USERNAME: "prism",
  OOSE_AUTH__PRISM__PASSWORD: "prism-secret",
  OOSE_AUTH__STORE__USERNAME: "store",
  OOSE_AUTH__STORE__PASSWORD: "store-secret",
  OOSE_SIGNING_KEY: "0123456789abcdef0123",
};

interface Route {
  route: string;
  response?: Record<string, unknown>;
}

/** Stands in for every backend and part: each property is itself, each call answers itself. */
const stub: never = new Proxy(() => {}, {
  get: (_t, key) => (key === "then" ? undefined : stub),
  apply: () => stub,
}) as never;
const allow = async () => {};

/** Every node has these, registered before any role's (and so before an onRoute hook can see them). */
const NODE_ROUTES = [
  "GET /",
  "POST /",
  "GET /ping",
  "POST /ping",
  "GET /stats",
  "POST /stats",
  "GET /healthz",
  "GET /livez",
  "GET /readyz",
  "GET /metrics",
];

/** The routes of a node app of `role` with the routes `register` adds, and the replies each declares. */
async function routesOf(role: "prism" | "store", register: (app: NodeApp, deps: object) => Promise<void>) {
  const config = loadConfig({ ...env, OOSE_ROLE: role });
  const deps = { config, log: pino({ level: "silent" }), couch: stub, redis: stub, checks: stub, tallies: stub };
  const app = createNodeApp(deps as never);
  const routes: Route[] = [];
  app.addHook("onRoute", (r: RouteOptions) => {
    for (const method of [r.method].flat()) {
      routes.push({ route: `${method} ${r.url}`, response: r.schema?.response as Route["response"] });
    }
  });
  // The node's own routes are asked what they declare, and answer nothing more.
  app.addHook("onRequest", async (req, reply) => {
    const response = req.routeOptions.schema?.response as Route["response"];
    routes.push({ route: `${req.method} ${req.routeOptions.url}`, response });
    return reply.code(204).send();
  });
  metricsRoute(app);
  await register(app, deps);
  await app.ready();
  for (const route of NODE_ROUTES) {
    const [method, url] = route.split(" ") as ["GET" | "POST", string];
    await app.inject({ method, url });
  }
  await app.close();
  return routes;
}

const prismApp = () =>
  routesOf("prism", async (app, deps) => {
    const ctx = {
      ...deps,
      ...{ app, peers: stub, existence: stub, pool: stub, placer: stub },
      ...{ session: allow, privateAuth: allow },
    } as unknown as PrismContext;
    await prismUploadRoutes(ctx);
    await retrieveRoutes(ctx, stub);
    await prismContentRoutes(ctx);
    await putRoutes(ctx);
    await cacheRoutes(ctx);
    await userRoutes(ctx, stub);
    await purchaseRoutes(ctx, stub);
    deliverRoutes(ctx, stub);
    consoleRoutes(ctx, stub);
  });

const storeApp = () =>
  routesOf("store", async (app, deps) => {
    const ctx = { ...deps, app, content: stub, staging: stub } as unknown as StoreContext;
    await app.register(async (scope) => {
      await storeUploadRoutes(ctx, scope as NodeApp);
      await storeContentRoutes(ctx, scope as NodeApp);
    });
  });

const isStatus = (key: string) => /^[1-5](\d\d|xx)$/.test(key);

for (const [role, build] of [
  ["prism", prismApp],
  ["store", storeApp],
] as const) {
  test(`every ${role} route declares its replies, errors as {error, code}`, async (t) => {
    const routes = await build();
    const names = routes.map((r) => r.route);
    for (const route of NODE_ROUTES) t.true(names.includes(route), `${route} was not asked`);
    t.true(routes.length > NODE_ROUTES.length + 8);
    for (const { route, response } of routes) {
      t.truthy(response, `${route} has no response schema`);
      for (const [status, schema] of Object.entries(response ?? {})) {
        t.true(isStatus(status), `${route}: ${status} is not a status`);
        const failure = route === "GET /healthz" && status === "503" ? Health : ErrorBody;
        if (Number(status) >= 400) t.is(schema, failure, `${route}: ${status} is not the error body`);
      }
    }
  });
}

/** What fastify sends for `value` under `schema`: serialised by the schema, as a route's reply is. */
async function served(schema: TSchema, value: unknown): Promise<unknown> {
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  app.get("/", { schema: { response: { 200: schema } } }, async () => value as never);
  const res = await app.inject({ method: "GET", url: "/" });
  await app.close();
  if (res.statusCode !== 200) throw new Error(`serialising failed: ${res.body}`);
  return res.json();
}

const HASH = "a".repeat(40);
const doc = copyDoc({ hash: HASH, ext: "txt", size: 5, relativePath: "aa/aa/x.txt" }, "prism1", "store1", "now");

test("replies built by the code keep every field through their schemas", async (t) => {
  const samples: [string, TSchema, unknown][] = [
    ["existence", prismRoutes.detail.response[200], existenceRecord(HASH, [doc], () => true)],
    ["dead existence", prismRoutes.detail.response[200], existenceRecord(HASH, [], () => true)],
    ["bulk existence", prismRoutes.exists.response[200], { [HASH]: existenceRecord(HASH, [doc], () => false) }],
    [
      "purchase",
      prismRoutes.purchase.response[200],
      toRedisHash({ token: "t", hash: HASH, ext: "txt", referrer: ["a.com"], life: 1, expirationDate: 2, owner: "u" }),
    ],
    [
      "upload",
      prismRoutes.upload.response[200],
      {
        success: "File(s) uploaded",
        data: { fields: { hashType: "sha1", meta: { a: 1 } } },
        files: {
          file: {
            ...{ key: "file", name: "a.txt", encoding: "7bit", mimetype: "text/plain", ext: "txt" },
            ...{ hash: HASH, sha1: HASH, hashType: "sha1", size: 5, copies: ["prism1:store1"], added: 1 },
          },
        },
      },
    ],
    [
      "cache detail",
      prismRoutes.cacheDetail.response[200],
      {
        success: "ok",
        count: 1,
        data: { existence: { size: 1, max: 9, hashes: [HASH] }, stats: { stat: { a: "1" } } },
      },
    ],
    ["stats", nodeReplies.stats[200], { stat: { prism: { requests: "3" } }, error: {} }],
    ["error details", ErrorBody, { error: "Too many", code: "TOO_MANY_REQUESTS", retryAfter: 3 }],
    ["store exists", storeRoutes.exists.response[200], { exists: { exists: true, ext: "txt" } }],
  ];
  for (const [name, schema, value] of samples) {
    t.deepEqual(await served(schema, value), JSON.parse(JSON.stringify(value)), name);
  }
});

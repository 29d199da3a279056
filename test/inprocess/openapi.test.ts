import { Validator } from "@seriousme/openapi-schema-validator";
import test from "ava";
import { codesOf, ERROR_REF } from "../../app/http/openapi.js";
import { VERSION } from "../../app/version.js";
import { basic, buildCluster, type InProcessCluster, PRISM_AUTH, STORE_AUTH } from "../helpers/inprocess.js";
import { type Doc, driveEveryRoute, type Json, operations, type Send } from "../helpers/openapi.js";

// The OpenAPI 3.1 documents the nodes build from their routes' schemas: each
// prism's GET /openapi.json (public) and reference page under /docs, each
// store's GET /openapi.json (behind its basic auth). Each document validates
// as OpenAPI 3.1; every operation has its responses, error replies by
// reference to the one error body with their codes; and every prism route,
// driven on the in-process cluster to a success and an error, answers bodies
// that validate against the document (test/helpers/openapi.ts; the local
// cluster's run is test/integration/openapi.test.ts).

const prismBasic = { authorization: basic(PRISM_AUTH) };

async function prismDoc(c: InProcessCluster): Promise<Doc> {
  const res = await c.prism.inject({ method: "GET", url: "/openapi.json" });
  if (res.statusCode !== 200) throw new Error(`GET /openapi.json ${res.statusCode}: ${res.body}`);
  return res.json();
}

async function storeDoc(c: InProcessCluster): Promise<Doc> {
  const headers = { authorization: basic(STORE_AUTH) };
  const res = await c.stores[0]!.app.inject({ method: "GET", url: "/openapi.json", headers });
  if (res.statusCode !== 200) throw new Error(`store GET /openapi.json ${res.statusCode}: ${res.body}`);
  return res.json();
}

test("both documents validate as OpenAPI 3.1, titled and versioned; the store's is behind its basic auth", async (t) => {
  const c = await buildCluster(t, { stores: 1 });
  const validator = new Validator();
  for (const [role, doc] of [
    ["prism", await prismDoc(c)],
    ["store", await storeDoc(c)],
  ] as const) {
    t.is(doc.openapi, "3.1.0", role);
    t.is(doc.info.version, VERSION, role);
    t.regex(String(doc.info.title), new RegExp(role), role);
    const result = await validator.validate(doc as never);
    t.true(result.valid, `${role}: ${JSON.stringify(result.errors, null, 1)}`);
    t.is(validator.version, "3.1", role);
    const schemes = (doc.components.securitySchemes ?? {}) as Record<string, Json>;
    t.like(schemes.session, { type: "apiKey", in: "header", name: "X-OOSE-Token" });
    t.like(schemes.basic, { type: "http", scheme: "basic" });
  }
  const store = c.stores[0]!.app;
  const bare = await store.inject({ method: "GET", url: "/openapi.json" });
  t.is(bare.statusCode, 401);
  t.is(bare.json().code, "UNAUTHORIZED");
  const wrong = await store.inject({ method: "GET", url: "/openapi.json", headers: prismBasic });
  t.is(wrong.statusCode, 401);
  // The document lists routes, not itself or the reference page.
  const prism = await prismDoc(c);
  t.false("/openapi.json" in prism.paths);
  t.false(Object.keys(prism.paths).some((p) => p.startsWith("/docs")));
});

test("every operation has its responses and a tag; every error reply references the error body with its codes", async (t) => {
  const c = await buildCluster(t, { stores: 1 });
  for (const [role, doc] of [
    ["prism", await prismDoc(c)],
    ["store", await storeDoc(c)],
  ] as const) {
    const ops = operations(doc);
    t.true(ops.length > 15, `${role}: ${ops.length} operations`);
    t.like(doc.components.schemas, { ErrorBody: { type: "object", required: ["error", "code"] } });
    for (const [method, path, op] of ops) {
      const where = `${role} ${method.toUpperCase()} ${path}`;
      const statuses = Object.keys(op.responses);
      t.true(
        statuses.some((s) => /^[23]/.test(s)),
        `${where}: a success (${statuses})`,
      );
      t.true(statuses.includes("500"), `${where}: 500`);
      t.is(op.tags?.length, 1, `${where}: one tag`);
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        const reply = op.responses[status]!;
        const schema = (reply.content as Record<string, { schema: Json }> | undefined)?.["application/json"]?.schema;
        // /healthz answers 503 with its own body (the same as its 200).
        if (path === "/healthz" && status === "503") continue;
        t.is(schema?.$ref, ERROR_REF, `${where} ${status}: the error body`);
        for (const code of codesOf(Number(status)))
          t.true(String(reply.description).includes(code), `${where} ${status}: ${code}`);
      }
    }
  }
  const prism = await prismDoc(c);
  const security = (path: string): string | undefined => {
    const op = prism.paths[path]?.post ?? prism.paths[path]?.get;
    return op?.security && JSON.stringify(op.security);
  };
  t.is(security("/content/upload"), JSON.stringify([{ session: [] }, { basic: [] }]));
  t.is(security("/content/exists"), JSON.stringify([{ basic: [] }]));
  t.is(security("/user/logout"), JSON.stringify([{ session: [] }]));
  t.is(security("/user/login"), undefined);
  t.is(security("/{token}/{filename}"), undefined);
  t.deepEqual(prism.paths["/content/upload"]?.post?.tags, ["content"]);
  t.deepEqual(prism.paths["/content/purchase"]?.post?.tags, ["purchase"]);
  t.deepEqual(prism.paths["/{token}/{filename}"]?.get?.tags, ["delivery"]);
  const codes404 = String(prism.paths["/content/download"]?.post?.responses["404"]?.description);
  t.regex(codes404, /CONTENT_NOT_FOUND/);
  const store = await storeDoc(c);
  for (const [method, path, op] of operations(store)) {
    const open = ["/", "/ping", "/stats", "/healthz", "/livez", "/readyz"].includes(path);
    const scheme: string | undefined = op.security && JSON.stringify(op.security);
    t.is(scheme, open ? undefined : JSON.stringify([{ basic: [] }]), `store ${method} ${path}`);
  }
});

test("every prism route, to a success and an error, answers what its document says", async (t) => {
  const c = await buildCluster(t, { prism: { retrieve: { allowPrivate: true } } });
  const send: Send = async (method, url, headers = {}, payload) =>
    c.prism.inject({ method: method as "GET", url, headers, payload: payload as Json });
  const user = { username: "alice", password: "alice-password-1" };
  const session = { "x-oose-token": await c.login(user.username, user.password) };
  await driveEveryRoute(t, { doc: await prismDoc(c), send, session, user, prismBasic });
});

test("the reference page and its assets are served by the prism itself, without credentials", async (t) => {
  const c = await buildCluster(t, { stores: 1 });
  const get = (url: string) => c.prism.inject({ method: "GET", url });
  for (const entry of ["/docs", "/docs/"]) {
    const page = await get(entry);
    t.is(page.statusCode, 200, entry);
    t.regex(String(page.headers["content-type"]), /^text\/html/);
    // No asset is fetched from elsewhere: every src and href is the prism's own.
    t.notRegex(page.body, /(src|href)="(https?:)?\/\//);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    t.true(assets.length > 3, entry);
    for (const asset of assets) {
      const url = new URL(asset, `http://prism${entry}`).pathname;
      t.is((await get(url)).statusCode, 200, `${entry}: ${url}`);
    }
  }
  const back = await get("/docs/static/index.html");
  t.is(back.statusCode, 302);
  t.is(back.headers.location, "/docs/");
  const init = await get("/docs/static/swagger-initializer.js");
  t.is(init.statusCode, 200);
  // Swagger UI's online validator badge is off: the page asks nothing of validator.swagger.io.
  t.regex(init.body, /"validatorUrl":\s*null/);
  t.is((await get("/docs/static/no-such-asset.js")).statusCode, 404);
  // Anything else under /docs is a file of the page's own folder, nothing above it.
  t.is((await get("/docs/swagger-ui.css")).statusCode, 200);
  t.is((await get("/docs/package.json")).statusCode, 404);
  const json = await get("/docs/json");
  t.is(json.statusCode, 200);
  t.is(json.json().openapi, "3.1.0");
  const yaml = await get("/docs/yaml");
  t.is(yaml.statusCode, 200);
  t.regex(yaml.body, /openapi: 3\.1\.0/);
});

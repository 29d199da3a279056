import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import test, { type ExecutionContext } from "ava";
import { codesOf, ERROR_REF } from "../../app/http/openapi.js";
import { VERSION } from "../../app/version.js";
import {
  basic,
  buildCluster,
  FOX,
  FOX_SHA1,
  type InProcessCluster,
  multipart,
  PRISM_AUTH,
  STORE_AUTH,
} from "../helpers/inprocess.js";

// The OpenAPI 3.1 documents the nodes build from their routes' schemas: each
// prism's GET /openapi.json (public) and reference page under /docs, each
// store's GET /openapi.json (behind its basic auth). Each document validates
// as OpenAPI 3.1; every operation has its responses, error replies by
// reference to the one error body with their codes; and every prism route,
// driven on the in-process cluster to a success and an error, answers bodies
// that validate against the document (ajv, the 2020-12 dialect of 3.1).

type Json = Record<string, unknown>;
type Operation = { responses: Record<string, Json>; tags?: string[]; security?: Json[] };
type Doc = { openapi: string; info: Json; paths: Record<string, Record<string, Operation>>; components: Json };

const UNKNOWN = "0123456789abcdef0123456789abcdef01234567";
const UNKNOWN_TOKEN = "a".repeat(64);
const prismBasic = { authorization: basic(PRISM_AUTH) };
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

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

function operations(doc: Doc): Array<[string, string, Operation]> {
  const out: Array<[string, string, Operation]> = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) if (METHODS.includes(method)) out.push([method, path, op]);
  return out;
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
    const open = ["/", "/ping", "/stats", "/healthz"].includes(path);
    const scheme: string | undefined = op.security && JSON.stringify(op.security);
    t.is(scheme, open ? undefined : JSON.stringify([{ basic: [] }]), `store ${method} ${path}`);
  }
});

/** `schema` with the document's component references inlined, for ajv. */
function inline(schema: unknown, components: Record<string, unknown>): unknown {
  if (Array.isArray(schema)) return schema.map((s) => inline(s, components));
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/")) {
      out.allOf = [inline(components[v.slice("#/components/schemas/".length)], components)];
    } else out[k] = inline(v, components);
  }
  return out;
}

type Injected = Awaited<ReturnType<InProcessCluster["prism"]["inject"]>>;

/** Checks live replies against one document, and counts which operations met a success and an error. */
class Conformance {
  readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  readonly compiled = new Map<string, ValidateFunction>();
  readonly seen = new Map<string, Set<"success" | "error">>();

  constructor(
    readonly t: ExecutionContext,
    readonly doc: Doc,
  ) {}

  check(method: string, path: string, res: Injected): void {
    const { t, doc } = this;
    const where = `${method} ${path} → ${res.statusCode}`;
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (!op) return void t.fail(`${method} ${path}: not in the document`);
    const reply = op.responses[String(res.statusCode)];
    if (!reply) return void t.fail(`${where}: status not in the document (${res.body})`);
    const kind = res.statusCode < 400 ? "success" : "error";
    this.seen.set(`${method} ${path}`, (this.seen.get(`${method} ${path}`) ?? new Set()).add(kind));
    const content = reply.content as Record<string, { schema: Json }> | undefined;
    const type = String(res.headers["content-type"] ?? "");
    if (!content) return void t.is(res.body, "", `${where}: no body`);
    if (!type.startsWith("application/json")) {
      // The bytes of a download come with the file's own type.
      t.truthy(content["application/octet-stream"] ?? content[type.split(";")[0]!], `${where}: ${type}`);
      return;
    }
    const key = `${where} json`;
    let validate = this.compiled.get(key);
    if (!validate) {
      const schema = content["application/json"]?.schema;
      if (!schema) return void t.fail(`${where}: JSON answered, none documented`);
      validate = this.ajv.compile(inline(schema, doc.components.schemas as Record<string, unknown>) as Json);
      this.compiled.set(key, validate);
    }
    t.true(validate(res.json()), `${where}: ${JSON.stringify(validate.errors)} for ${res.body}`);
  }
}

async function origin(t: ExecutionContext): Promise<string> {
  const server: Server = createServer((_req, res) =>
    res.writeHead(200, { "content-type": "text/plain", "content-length": FOX.length }).end(FOX),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("every prism route, to a success and an error, answers what its document says", async (t) => {
  const c = await buildCluster(t, { prism: { retrieve: { allowPrivate: true } } });
  const doc = await prismDoc(c);
  const check = new Conformance(t, doc);
  const inject = (method: string, url: string, headers: Record<string, string> = {}, payload?: unknown) =>
    c.prism.inject({ method: method as "GET", url, headers, payload: payload as Json });
  const call = async (method: string, path: string, url: string, headers?: Record<string, string>, payload?: unknown) =>
    check.check(method, path, await inject(method, url, headers, payload));
  const token = await c.login();
  const session = { "x-oose-token": token };

  for (const method of ["GET", "POST"]) {
    await call(method, "/", "/");
    await call(method, "/ping", "/ping");
    await call(method, "/stats", "/stats");
  }
  await call("GET", "/healthz", "/healthz");

  await call("POST", "/user/login", "/user/login", {}, { username: "alice", password: "alice-password-1" });
  await call("POST", "/user/login", "/user/login", {}, { username: "alice", password: "wrong-password-1" });
  await call("POST", "/user/session/validate", "/user/session/validate", session);
  await call("POST", "/user/session/validate", "/user/session/validate", prismBasic);
  await call("POST", "/user/session/validate", "/user/session/validate");
  await call("POST", "/user/session/renew", "/user/session/renew", session);
  await call("POST", "/user/session/renew", "/user/session/renew");

  const form = multipart([
    { field: "note", value: "hello" },
    { file: "file", filename: "fox.txt", type: "text/plain", body: FOX },
  ]);
  await call("POST", "/content/upload", "/content/upload", { ...session, ...form.headers }, form.payload);
  await call("POST", "/content/upload", "/content/upload", form.headers, form.payload);
  const url = await origin(t);
  await call("POST", "/content/retrieve", "/content/retrieve", session, { request: { url: `${url}/fox.txt` } });
  await call("POST", "/content/retrieve", "/content/retrieve", session, {});
  for (const path of ["/content/detail", "/content/exists"]) {
    await call("POST", path, path, prismBasic, { hash: FOX_SHA1 });
    await call("POST", path, path, prismBasic, { hash: [FOX_SHA1, UNKNOWN] });
    await call("POST", path, path, prismBasic, { hash: "../x" });
    await call("POST", path, path, {}, { hash: FOX_SHA1 });
  }
  await call("POST", "/content/download", "/content/download", session, { hash: FOX_SHA1 });
  await call("POST", "/content/download", "/content/download", session, { hash: UNKNOWN });
  const octets = { ...prismBasic, "content-type": "application/octet-stream" };
  await call("PUT", "/content/put/{file}", `/content/put/${FOX_SHA1}.txt`, octets, FOX);
  await call("PUT", "/content/put/{file}", "/content/put/nothash.txt", octets, FOX);
  await call("GET", "/static/{hash}/{filename}", `/static/${FOX_SHA1}/fox.txt`);
  await call("GET", "/static/{hash}/{filename}", `/static/${UNKNOWN}/fox.txt`);

  const bought = await inject("POST", "/content/purchase", session, { hash: FOX_SHA1, ext: "txt" });
  check.check("POST", "/content/purchase", bought);
  const p = bought.json() as { token: string };
  await call("POST", "/content/purchase", "/content/purchase", session, { hash: UNKNOWN, ext: "txt" });
  await call("POST", "/content/purchase", "/content/purchase", session, { hash: FOX_SHA1 });
  await call("POST", "/content/purchase/find", "/content/purchase/find", session, { token: p.token });
  await call("POST", "/content/purchase/find", "/content/purchase/find", session, { token: UNKNOWN_TOKEN });
  await call("POST", "/content/purchase/update", "/content/purchase/update", session, { token: p.token, life: 9000 });
  await call("POST", "/content/purchase/update", "/content/purchase/update", session, { token: "short" });
  await call("GET", "/{token}/{filename}", `/${p.token}/fox.txt`);
  await call("GET", "/{token}/{filename}", `/${UNKNOWN_TOKEN}/fox.txt`);
  await call("GET", "/{token}/{filename}", "/short/fox.txt");
  await call("POST", "/content/purchase/remove", "/content/purchase/remove", session, { token: p.token });
  await call("POST", "/content/purchase/remove", "/content/purchase/remove", {}, { token: p.token });

  await call("POST", "/cache/detail", "/cache/detail", prismBasic, { command: "all" });
  await call("POST", "/cache/detail", "/cache/detail", prismBasic, { command: "bogus" });
  await call("POST", "/cache/flush", "/cache/flush", prismBasic, { command: "existence" });
  await call("POST", "/cache/flush", "/cache/flush", session, { command: "existence" });

  await call("GET", "/console/api/cluster", "/console/api/cluster", prismBasic);
  await call("GET", "/console/api/cluster", "/console/api/cluster", session);

  await call("POST", "/content/list", "/content/list", session, { limit: 10 });
  await call("POST", "/content/list", "/content/list", session, { limit: 0 });
  await call("POST", "/content/delete", "/content/delete", session, { hash: UNKNOWN });
  await call("POST", "/content/delete", "/content/delete", session, { hash: FOX_SHA1 });

  await call("POST", "/user/logout", "/user/logout", session);
  await call("POST", "/user/logout", "/user/logout", session);

  // Every operation was met, and each to an error too but the public node routes, which have none to give.
  const noError = new Set(["GET /", "POST /", "GET /ping", "POST /ping", "GET /stats", "POST /stats", "GET /healthz"]);
  for (const [method, path] of operations(doc)) {
    const key = `${method.toUpperCase()} ${path}`;
    const seen = check.seen.get(key) ?? new Set();
    t.true(seen.has("success"), `${key}: a success`);
    if (!noError.has(key)) t.true(seen.has("error"), `${key}: an error`);
  }
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

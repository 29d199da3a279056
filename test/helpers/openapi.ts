import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import type { ExecutionContext } from "ava";
import { FOX, FOX_SHA1, multipart } from "./inprocess.js";

// Drives every prism route to a success and an error, and checks each reply
// against the prism's OpenAPI document (ajv, the 2020-12 dialect of 3.1): on
// the in-process cluster (inject) and on a local cluster (HTTP), through one
// `send`.

export type Json = Record<string, unknown>;
export type Operation = { responses: Record<string, Json>; tags?: string[]; security?: Json[] };
export type Doc = { openapi: string; info: Json; paths: Record<string, Record<string, Operation>>; components: Json };

/** A reply as both inject and an HTTP client give it. */
export interface Reply {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
  json(): unknown;
}

export type Send = (method: string, url: string, headers?: Record<string, string>, payload?: unknown) => Promise<Reply>;

export const UNKNOWN = "0123456789abcdef0123456789abcdef01234567";
export const UNKNOWN_TOKEN = "a".repeat(64);
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

export function operations(doc: Doc): Array<[string, string, Operation]> {
  const out: Array<[string, string, Operation]> = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) if (METHODS.includes(method)) out.push([method, path, op]);
  return out;
}

/** `schema` with the document's component references inlined, for ajv. */
export function inline(schema: unknown, components: Record<string, unknown>): unknown {
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

/** Checks live replies against one document, and counts which operations met a success and an error. */
export class Conformance {
  readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  readonly compiled = new Map<string, ValidateFunction>();
  readonly seen = new Map<string, Set<"success" | "error">>();

  constructor(
    readonly t: ExecutionContext,
    readonly doc: Doc,
  ) {}

  check(method: string, path: string, res: Reply): void {
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

export interface Drive {
  doc: Doc;
  send: Send;
  /** A session of `user`, who can log in with `password`. */
  session: Record<string, string>;
  user: { username: string; password: string };
  /** The prism's basic auth. */
  prismBasic: Record<string, string>;
}

/** Every prism route to a success and an error, each reply checked; then that every operation was met. */
export async function driveEveryRoute(t: ExecutionContext, d: Drive): Promise<void> {
  const check = new Conformance(t, d.doc);
  const { send, session, prismBasic } = d;
  const call = async (method: string, path: string, url: string, headers?: Record<string, string>, payload?: unknown) =>
    check.check(method, path, await send(method, url, headers, payload));

  for (const method of ["GET", "POST"]) {
    await call(method, "/", "/");
    await call(method, "/ping", "/ping");
    await call(method, "/stats", "/stats");
  }
  await call("GET", "/healthz", "/healthz");
  await call("GET", "/livez", "/livez");
  await call("GET", "/readyz", "/readyz");
  // Only where metrics are on (the local cluster's nodes).
  if (d.doc.paths["/metrics"]) {
    await call("GET", "/metrics", "/metrics", prismBasic);
    await call("GET", "/metrics", "/metrics");
  }

  await call("POST", "/user/login", "/user/login", {}, d.user);
  await call("POST", "/user/login", "/user/login", {}, { username: d.user.username, password: "wrong-password-1" });
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

  const bought = await send("POST", "/content/purchase", session, { hash: FOX_SHA1, ext: "txt" });
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
  // Liveness has no error to give; readiness fails only with a backend down (test/inprocess/health.test.ts).
  for (const key of ["GET /livez", "GET /readyz"]) noError.add(key);
  for (const [method, path] of operations(d.doc)) {
    const key = `${method.toUpperCase()} ${path}`;
    const seen = check.seen.get(key) ?? new Set();
    t.true(seen.has("success"), `${key}: a success`);
    if (!noError.has(key)) t.true(seen.has("error"), `${key}: an error`);
  }
}

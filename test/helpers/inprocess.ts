import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ExecutionContext } from "ava";
import { MemoryBlobs } from "../../app/adapters/memory/blobs.js";
import type { Backends } from "../../app/compose/backends.js";
import { memoryBackends } from "../../app/compose/memory.js";
import { composePrism } from "../../app/compose/prism.js";
import { composeStore } from "../../app/compose/store.js";
import { type Config, parseConfig } from "../../app/config.js";
import type { NodeApp } from "../../app/http/node.js";
import { logger } from "../../app/log.js";
import type { RoleNode } from "../../app/node.js";
import { freePort } from "../../infra/local/proc.js";

// A whole cluster in this process, as fastify/demo's build(t): the real prism
// and store apps, composed by app/compose over one memory Backends bundle.
// Stores listen on loopback (the prism talks to them over HTTP, as in
// production); the prism is driven with inject. Built per test, closed by its
// teardown; no service is started, so a case costs milliseconds.

export const PRISM_AUTH = { username: "prism", password: "prism-secret-1" };
export const STORE_AUTH = { username: "store", password: "store-secret-1" };
export const basic = (c: { username: string; password: string }) =>
  `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;

/** No heartbeat, probe or background job: a case sees only what its requests do. */
const QUIET = {
  heartbeat: { enabled: false },
  probe: { enabled: false },
  repair: { enabled: false },
  heal: { enabled: false },
  scrub: { enabled: false },
  hot: { enabled: false },
  accessLog: { enabled: false },
  metrics: { enabled: false },
};

function nodeConfig(raw: Record<string, unknown>): Config {
  return parseConfig({
    couchdb: { url: "http://couchdb.invalid" },
    redis: { url: "redis://redis.invalid" },
    auth: { prism: PRISM_AUTH, store: STORE_AUTH },
    signingKey: "in-process-signing-key-0123456789",
    domain: "cluster.test",
    purchase: { waitReplicas: 0 },
    ...QUIET,
    ...raw,
  });
}

/** A store's public URL is its API's: no nginx runs in-process, and redirects are checked, not followed. */
export interface InProcessStore {
  name: string;
  zone: string;
  url: string;
  config: Config;
  app: NodeApp;
  blobs: MemoryBlobs;
}

export interface InProcessCluster {
  backends: Backends;
  prism: NodeApp;
  /** The prism's own loopback URL, when built with `listen: true` (for the raw fast paths inject bypasses). */
  prismUrl?: string;
  prismConfig: Config;
  stores: InProcessStore[];
  /** A session token for `user` (added on first use). */
  login(user?: string, password?: string, roles?: string[]): Promise<string>;
}

export async function buildCluster(
  t: ExecutionContext,
  o: {
    stores?: number;
    prism?: Record<string, unknown>;
    /** Config overrides for every store. */
    store?: Record<string, unknown>;
    /** The clock of the memory ports (purchases, sessions, attempts, leases, hot counts). */
    now?: () => number;
    /** GET /metrics on every node (off by default). Metrics state is per process: keep one setting per test file. */
    metrics?: boolean;
    /** The prism listens on loopback too (inject still works). */
    listen?: boolean;
  } = {},
): Promise<InProcessCluster> {
  const backends = memoryBackends(o.now);
  const metrics = { metrics: { enabled: o.metrics ?? false } };
  const log = logger("inprocess");
  // Warnings and errors only, unless the run asks for more (OOSE_LOG_LEVEL).
  if (!process.env.OOSE_LOG_LEVEL) log.level = "warn";
  const dir = mkdtempSync(path.join(tmpdir(), "oose-inprocess-"));
  const nodes: RoleNode[] = [];
  t.teardown(async () => {
    for (const n of nodes.reverse()) {
      await n.stop();
      await n.app.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const stores: InProcessStore[] = [];
  for (let i = 1; i <= (o.stores ?? 2); i++) {
    const name = `store${i}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const zone = `zone${((i - 1) % 2) + 1}`;
    const config = nodeConfig({
      ...{ role: "store", name, prism: "prism1", zone, advertiseUrl: url, publicUrl: url },
      ...{ dataRoot: path.join(dir, name), listen: { host: "127.0.0.1", port } },
      ...metrics,
      ...o.store,
    });
    const blobs = new MemoryBlobs();
    const node = await composeStore(config, log.child({ node: name }), backends, blobs);
    await node.app.listen({ host: "127.0.0.1", port });
    await node.start();
    nodes.push(node);
    stores.push({ name, zone, url, config, app: node.app, blobs });
  }
  const prismConfig = nodeConfig({
    ...{ role: "prism", name: "prism1", advertiseUrl: "http://127.0.0.1:5971", dataRoot: path.join(dir, "prism1") },
    ...metrics,
    ...o.prism,
  });
  const prism = await composePrism(prismConfig, log, backends);
  let prismUrl: string | undefined;
  if (o.listen) {
    const port = await freePort();
    await prism.app.listen({ host: "127.0.0.1", port });
    prismUrl = `http://127.0.0.1:${port}`;
  } else await prism.app.ready();
  await prism.start();
  nodes.push(prism);
  return {
    backends,
    prism: prism.app,
    prismConfig,
    prismUrl,
    stores,
    async login(user = "alice", password = "alice-password-1", roles: string[] = []) {
      await backends.users.add(user, password, roles);
      const res = await prism.app.inject({
        method: "POST",
        url: "/user/login",
        payload: { username: user, password },
      });
      if (res.statusCode !== 200) throw new Error(`login ${res.statusCode}: ${res.body}`);
      return res.json().session.token as string;
    },
  };
}

/** A multipart/form-data body: fields first, then files, in order. */
export function multipart(
  parts: Array<
    { field: string; value: string } | { file: string; filename?: string; type?: string; body: string | Buffer }
  >,
  boundary = "----oose-inprocess-boundary",
): { payload: Buffer; headers: { "content-type": string } } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const head =
      "field" in p
        ? `Content-Disposition: form-data; name="${p.field}"`
        : `Content-Disposition: form-data; name="${p.file}"${p.filename === undefined ? "" : `; filename="${p.filename}"`}\r\nContent-Type: ${p.type ?? "application/octet-stream"}`;
    chunks.push(Buffer.from(`--${boundary}\r\n${head}\r\n\r\n`));
    chunks.push(Buffer.from("field" in p ? p.value : p.body));
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { "content-type": `multipart/form-data; boundary=${boundary}` } };
}

/** A settable clock for the memory ports: `now()` as Date.now, plus whatever `advance` added. */
export function testClock(): { now: () => number; advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      offset += ms;
    },
  };
}

export const FOX = Buffer.from("The fox is brown");
export const FOX_SHA1 = "a03f181dc7dedcfb577511149b8844711efdb04f";

type Injected = Awaited<ReturnType<NodeApp["inject"]>>;

/** A refusal as every route gives it: `status`, a JSON `{error, code}` body with `code`. */
export function assertError(t: ExecutionContext, res: Injected, status: number, code: string): void {
  t.is(res.statusCode, status, res.body);
  t.regex(String(res.headers["content-type"]), /^application\/json/);
  const body = res.json();
  t.is(body.code, code);
  t.is(typeof body.error, "string");
  t.true(body.error.length > 0);
}

/** Uploads one file through the prism with a session (or the prism's basic auth); the reply's file entry. */
export async function uploadFile(
  c: InProcessCluster,
  auth: { token: string } | "basic",
  body: string | Buffer = FOX,
  o: { filename?: string; type?: string; field?: string } = {},
): Promise<{ hash: string; size: number; copies: string[]; added: number; ext: string }> {
  const form = multipart([
    { file: o.field ?? "file", filename: o.filename ?? "fox.txt", type: o.type ?? "text/plain", body },
  ]);
  const headers = auth === "basic" ? { authorization: basic(PRISM_AUTH) } : { "x-oose-token": auth.token };
  const res = await c.prism.inject({
    method: "POST",
    url: "/content/upload",
    headers: { ...headers, ...form.headers },
    payload: form.payload,
  });
  if (res.statusCode !== 200) throw new Error(`upload ${res.statusCode}: ${res.body}`);
  return res.json().files[o.field ?? "file"];
}

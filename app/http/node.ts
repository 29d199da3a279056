import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import type { Couch } from "../adapters/couch/index.js";
import type { Config } from "../config.js";
import { nodeReplies } from "../contracts/common.js";
import type { Logger } from "../log.js";
import { serverTls } from "../tls.js";
import { VERSION } from "../version.js";
import { installMetrics } from "../metrics/http.js";
import { installErrorHandling } from "./errors.js";
import { bodyDeadline, createNodeServer } from "./server.js";
import { Counters } from "./stats.js";

// What every node (prism or store) has: error handling, `/`, `/ping`, `/stats`,
// `/healthz`, request counters and the request-latency metrics. Roles add their routes on top.

export interface NodeDeps {
  config: Config;
  couch: Couch;
  redis: Redis;
  log: Logger;
}

export type NodeApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
> & { counters: Counters };

async function probe(check: () => Promise<unknown>): Promise<{ ok: boolean; ms: number; error?: string }> {
  const start = performance.now();
  try {
    await check();
    return { ok: true, ms: Math.round(performance.now() - start) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - start), error: (err as Error).message };
  }
}

// Probes are shared for this long, so /healthz cannot be used to hammer CouchDB and Redis.
const HEALTH_LIFE_MS = 1000;

/** `load`'s answer, shared by every caller (those waiting on it included) for `lifeMs` after it started. */
function cached<T>(lifeMs: number, load: () => Promise<T>): () => Promise<T> {
  let last: { at: number; answer: Promise<T> } | undefined;
  return () => {
    const now = performance.now();
    if (!last || now - last.at >= lifeMs) last = { at: now, answer: load() };
    return last.answer;
  };
}

/** A handler tried before fastify routes a request; true when it took the request. */
export type RawRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface NodeAppOptions {
  bodyLimit?: number;
  /**
   * Tried in order before fastify sees a request; may be filled in after the
   * app is built. For the few hot routes where fastify's per-request work
   * (request objects, hooks, child loggers) costs more than the route itself.
   */
  rawRoutes?: RawRoute[];
}

export function createNodeApp(deps: NodeDeps, opts: NodeAppOptions = {}): NodeApp {
  const { config, couch, redis, log } = deps;
  const rawRoutes = opts.rawRoutes ?? [];
  let closing = false;
  // HTTPS when the node has a certificate (config.tls), as OOSE's nodes had; the routes are the same.
  const https = serverTls(config.tls);
  const serverFactory = (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
    createNodeServer(config.limits, https, (req, res) => {
      // While closing, fastify answers 503 (return503OnClosing).
      if (!closing) for (const route of rawRoutes) if (route(req, res)) return;
      handler(req, res);
    });
  const options = {
    serverFactory,
    loggerInstance: log,
    disableRequestLogging: true,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // The client's address (login limits, sessions) as the front proxy saw it.
    trustProxy: config.limits.trustProxy,
    return503OnClosing: true,
    forceCloseConnections: true,
    // Long enough that an over-long id reaches the route's schema (a clear 400) instead of a bare 404.
    maxParamLength: 1024,
    // Scalars only: fastify's default ("array") turns a one-element array into a string, so bulk lookups broke.
    ajv: { customOptions: { coerceTypes: true } },
  };
  const base = Fastify(options) as unknown as FastifyInstance;
  const app = base.withTypeProvider<TypeBoxTypeProvider>() as unknown as NodeApp;
  installErrorHandling(app);
  bodyDeadline(app, config.limits.bodyTimeoutMs);

  const health = cached(HEALTH_LIFE_MS, async () => {
    const [couchdb, redisState] = await Promise.all([
      probe(() => couch.server.request({ path: "_up" })),
      probe(() => redis.ping()),
    ]);
    const ok = couchdb.ok && redisState.ok;
    return { status: ok ? "ok" : "unavailable", role: config.role, name: config.name, couchdb, redis: redisState };
  });
  // Before any route and hook of its own, so every request is timed. The roles add GET /metrics behind their
  // own basic auth. A bare test config may have no metrics section.
  installMetrics(app, { enabled: config.metrics?.enabled ?? true, role: config.role, health });

  const counters = new Counters(redis, config.role, `${config.redis.prefix}:counter:${config.role}:${config.name}`, log);
  app.decorate("counters", counters);
  app.addHook("onResponse", async (req, reply) => counters.response(req.method, req.routeOptions.url, reply.statusCode));
  app.addHook("onReady", async () => counters.start());
  app.addHook("onClose", async () => counters.stop());
  app.addHook("preClose", async () => {
    closing = true;
  });

  const welcome = async () => ({ message: `Welcome to OOSE version ${VERSION}` });
  const pong = async () => ({ pong: "pong" });
  app.get("/", { schema: { response: nodeReplies.welcome } }, welcome);
  app.post("/", { schema: { response: nodeReplies.welcome } }, welcome);
  app.get("/ping", { schema: { response: nodeReplies.ping } }, pong);
  app.post("/ping", { schema: { response: nodeReplies.ping } }, pong);
  const stats = async () => counters.snapshot();
  app.get("/stats", { schema: { response: nodeReplies.stats } }, stats);
  app.post("/stats", { schema: { response: nodeReplies.stats } }, stats);
  app.get("/healthz", { schema: { response: nodeReplies.health } }, async (_req, reply) => {
    const answer = await health();
    return reply.status(answer.status === "ok" ? 200 : 503).send(answer);
  });
  return app;
}

import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import type { Couch } from "../adapters/couch/index.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { serverTls } from "../tls.js";
import { VERSION } from "../version.js";
import { installErrorHandling } from "./errors.js";
import { Counters } from "./stats.js";

// What every node (prism or store) has: error handling, `/`, `/ping`, `/stats`,
// `/healthz` and request counters. Roles add their routes on top.

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

export function createNodeApp(deps: NodeDeps, opts: { bodyLimit?: number } = {}): NodeApp {
  const { config, couch, redis, log } = deps;
  const options = {
    loggerInstance: log,
    disableRequestLogging: true,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    requestTimeout: 0,
    return503OnClosing: true,
    forceCloseConnections: true,
    // Long enough that an over-long id reaches the route's schema (a clear 400) instead of a bare 404.
    maxParamLength: 1024,
    // Scalars only: fastify's default ("array") turns a one-element array into a string, so bulk lookups broke.
    ajv: { customOptions: { coerceTypes: true } },
  };
  // HTTPS when the node has a certificate (config.tls), as OOSE's nodes had; the routes are the same.
  const https = serverTls(config.tls);
  const base = (https ? Fastify({ ...options, https }) : Fastify(options)) as unknown as FastifyInstance;
  const app = base.withTypeProvider<TypeBoxTypeProvider>() as unknown as NodeApp;
  installErrorHandling(app);

  const counters = new Counters(redis, `${config.redis.prefix}:counter:${config.role}:${config.name}`, log);
  app.decorate("counters", counters);
  // Counter names per route, built once rather than on every response.
  const routeCounters = new Map<string, string>();
  app.addHook("onResponse", async (req, reply) => {
    counters.inc(`stat:${config.role}:requests`);
    if (reply.statusCode >= 400) counters.inc(`error:${config.role}:status${reply.statusCode}`);
    const route = req.routeOptions.url;
    if (!route || route === "/ping") return;
    const key = req.method + route;
    let name = routeCounters.get(key);
    if (!name) {
      name = `stat:${config.role}:route:${req.method}${route.replaceAll(":", "=")}`;
      routeCounters.set(key, name);
    }
    counters.inc(name);
  });
  app.addHook("onReady", async () => counters.start());
  app.addHook("onClose", async () => counters.stop());

  const welcome = async () => ({ message: `Welcome to OOSE version ${VERSION}` });
  const pong = async () => ({ pong: "pong" });
  app.get("/", welcome);
  app.post("/", welcome);
  app.get("/ping", pong);
  app.post("/ping", pong);
  const stats = async () => counters.snapshot();
  app.get("/stats", stats);
  app.post("/stats", stats);
  app.get("/healthz", async (_req, reply) => {
    const [couchdb, redisState] = await Promise.all([
      probe(() => couch.server.request({ path: "_up" })),
      probe(() => redis.ping()),
    ]);
    const ok = couchdb.ok && redisState.ok;
    return reply
      .status(ok ? 200 : 503)
      .send({ status: ok ? "ok" : "unavailable", role: config.role, name: config.name, couchdb, redis: redisState });
  });
  return app;
}

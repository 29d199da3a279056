import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../config.js";
import type { HealthChecks, Tallies } from "../core/ports/tallies.js";
import type { Logger } from "../log.js";
import { serverTls } from "../tls.js";
import { installMetrics } from "../metrics/http.js";
import { installErrorHandling } from "./errors.js";
import { nodeHealth, nodeRoutes } from "./node-routes.js";
import { useOpenApi } from "./openapi.js";
import { replySerializer } from "./serializers.js";
import { bodyDeadline, createNodeServer } from "./server.js";
import { Counters } from "./stats.js";
import type { NodeApp } from "./types.js";

// The app every node (prism or store) is built on: the server with its raw
// routes in front, error handling, request counters and latency metrics, and
// the public node routes (node-routes.ts). Roles add their routes on top.

/** What the node app needs of the backends: health checks and where its counters go. */
export interface NodeBackends {
  config: Config;
  log: Logger;
  checks: HealthChecks;
  tallies: Tallies;
}

export type { NodeApp } from "./types.js";

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

export function createNodeApp(deps: NodeBackends, opts: NodeAppOptions = {}): NodeApp {
  const { config, checks, log } = deps;
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
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // The client's address (login limits, sessions) as the front proxy saw it.
    trustProxy: config.limits.trustProxy,
    return503OnClosing: true,
    forceCloseConnections: true,
    // Long enough that an over-long id reaches the route's schema (a clear 400) instead of a bare 404.
    routerOptions: { maxParamLength: 1024 },
    // Scalars only: fastify's default ("array") turns a one-element array into a string, so bulk lookups broke.
    ajv: { customOptions: { coerceTypes: true } },
  };
  const base = Fastify(options) as unknown as FastifyInstance;
  const app = base.withTypeProvider<TypeBoxTypeProvider>() as unknown as NodeApp;
  app.setSerializerCompiler(replySerializer);
  installErrorHandling(app);
  // Before any route, so that the document lists them all (collected at startup only; see openapi.ts).
  useOpenApi(app, config.role);
  bodyDeadline(app, config.limits.bodyTimeoutMs);

  const health = nodeHealth(config, checks);
  // Before any route and hook of its own, so every request is timed. The roles add GET /metrics behind their
  // own basic auth. A bare test config may have no metrics section.
  installMetrics(app, { enabled: config.metrics?.enabled ?? true, role: config.role, health });

  const counters = new Counters(deps.tallies, config.role, log);
  app.decorate("counters", counters);
  app.addHook("onResponse", async (req, reply) =>
    counters.response(req.method, req.routeOptions.url, reply.statusCode),
  );
  app.addHook("onReady", async () => counters.start());
  app.addHook("onClose", async () => counters.stop());
  app.addHook("preClose", async () => {
    closing = true;
  });

  nodeRoutes(app, counters, health, config);
  return app;
}

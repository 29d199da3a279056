import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { register } from "prom-client";
import { nodeReplies } from "../contracts/common.js";
import { joinWorkerMetrics, nodeMetrics } from "./cluster.js";
import {
  type BackendHealth,
  backendSource,
  httpDuration,
  metricsState,
  showRole,
  startProcessMetrics,
} from "./index.js";

// The HTTP side of the metrics: the latency hook every fastify route passes,
// the same figures for the raw fast paths, and GET /metrics behind the node's
// own basic auth (prism auth on prisms, store auth on stores; the roles pass it).

type Timer = { observe(seconds: number): void };

/** Histogram children by route, method and status, resolved once each. */
const children = new Map<string, Timer>();

/** The route label: a template, never a URL. */
export function routeLabel(template: string | undefined): string {
  if (template === undefined) return "unmatched";
  if (template === "/:token/:filename") return "deliver";
  if (template.startsWith("/static/")) return "static";
  return template;
}

/** Records one answered request; `template` as fastify matched it (undefined: no route). */
export function observeRequest(template: string | undefined, method: string, status: number, seconds: number): void {
  const key = `${method} ${status} ${template}`;
  let child = children.get(key);
  if (!child) {
    child = httpDuration.labels({ route: routeLabel(template), method, status: String(status) });
    children.set(key, child);
  }
  child.observe(seconds);
}

export interface MetricsOptions {
  enabled: boolean;
  role: "prism" | "store";
  health: () => Promise<BackendHealth>;
}

/** With metrics off nothing is installed: no hook, no timing on the raw paths, and no /metrics (a 404). */
export function installMetrics(app: FastifyInstance, o: MetricsOptions): void {
  metricsState.enabled = o.enabled;
  if (!o.enabled) return;
  startProcessMetrics();
  showRole(o.role);
  joinWorkerMetrics();
  backendSource.check = o.health;
  app.addHook("onResponse", (req, reply, done) => {
    observeRequest(req.routeOptions.url, req.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** GET /metrics, when metrics are on, behind `guard` (the node's basic auth), or in a scope that enforces it. */
export function metricsRoute(app: FastifyInstance, guard?: Guard): void {
  if (!metricsState.enabled) return;
  const schema = { response: nodeReplies.metrics };
  app.get("/metrics", guard ? { onRequest: guard, schema } : { schema }, async (_req, reply) => {
    reply.type(register.contentType);
    return nodeMetrics();
  });
}

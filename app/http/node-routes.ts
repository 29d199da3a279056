import type { Config } from "../config.js";
import { nodeReplies } from "../contracts/common.js";
import type { HealthChecks } from "../core/ports/tallies.js";
import { VERSION } from "../version.js";
import type { NodeApp } from "./types.js";
import type { Counters } from "./stats.js";

// What every node answers without credentials: `/`, `/ping`, `/stats`,
// `/healthz` (each backend probed, the answer shared for a second), and the
// orchestrator's pair: `/livez` (the process serves; no backend asked, so a
// CouchDB or Redis outage restarts nothing) and `/readyz` (its backends answer).

export interface NodeHealth {
  status: "ok" | "unavailable";
  role: Config["role"];
  name: string;
  couchdb: Probe;
  redis: Probe;
}

interface Probe {
  ok: boolean;
  ms: number;
  error?: string;
}

async function probe(check: () => Promise<unknown>): Promise<Probe> {
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

/** The node's health, probing each backend at most once per HEALTH_LIFE_MS whoever asks. */
export function nodeHealth(config: Config, checks: HealthChecks): () => Promise<NodeHealth> {
  return cached(HEALTH_LIFE_MS, async () => {
    const [couchdb, redis] = await Promise.all([probe(checks.couchdb), probe(checks.redis)]);
    const status = couchdb.ok && redis.ok ? "ok" : "unavailable";
    return { status, role: config.role, name: config.name, couchdb, redis };
  });
}

export function nodeRoutes(
  app: NodeApp,
  counters: Counters,
  health: () => Promise<NodeHealth>,
  node: Pick<Config, "role" | "name">,
): void {
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
  const started = performance.now();
  app.get("/livez", { schema: { response: nodeReplies.live } }, async () => ({
    status: "ok" as const,
    role: node.role,
    name: node.name,
    uptimeS: Math.floor((performance.now() - started) / 1000),
  }));
  app.get("/readyz", { schema: { response: nodeReplies.ready } }, async (_req, reply) => {
    const answer = await health();
    if (answer.status === "ok") return answer;
    const down = (["couchdb", "redis"] as const).filter((b) => !answer[b].ok);
    const { couchdb, redis, role, name } = answer;
    return reply.status(503).send({
      error: `Not ready: ${down.join(" and ")} unavailable`,
      code: "BACKEND_UNAVAILABLE",
      ...{ role, name, couchdb, redis },
    });
  });
}

import { fastifySwagger } from "@fastify/swagger";
import { type FastifySwaggerUiOptions, fastifySwaggerUi } from "@fastify/swagger-ui";
import { createRequire } from "node:module";
import path from "node:path";
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import { Bytes, ErrorBody } from "../contracts/common.js";
import * as failures from "../errors.js";
import { VERSION } from "../version.js";

// The OpenAPI 3.1 document of a node, built by @fastify/swagger from the
// routes' own schemas (app/contracts) when it is first asked for: nothing is
// written twice and nothing runs per request (swagger only listens to route
// registration). Here only what a schema cannot say is added: the error codes
// behind each status (from app/errors.ts), tags, the security schemes, and
// the successes that have no JSON body (a redirect, Prometheus text, bytes).

type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
type Json = Record<string, unknown>;

/** Every stable code of app/errors.ts, by the status it answers with. */
export const CODES_BY_STATUS: ReadonlyMap<number, readonly string[]> = (() => {
  const out = new Map<number, string[]>();
  for (const kind of Object.values(failures)) {
    const { code, status } = kind as { code?: unknown; status?: unknown };
    if (typeof code !== "string" || typeof status !== "number") continue;
    out.set(status, [...(out.get(status) ?? []), code]);
  }
  for (const codes of out.values()) codes.sort();
  return out;
})();

/** The codes an error reply of `status` can carry. */
export function codesOf(status: number): readonly string[] {
  return CODES_BY_STATUS.get(status) ?? [];
}

export const ERROR_REF = "#/components/schemas/ErrorBody";

const SECURITY = {
  /** X-OOSE-Token, or the prism's basic auth (OOSE's fallback). */
  session: [{ session: [] }, { basic: [] }],
  /** The node's basic auth only. */
  basic: [{ basic: [] }],
  /** X-OOSE-Token only (logout, renew). */
  token: [{ session: [] }],
} as const;
type Scheme = keyof typeof SECURITY;

// Where the document marks what transformObject completes.
const MARK = "x-oose";

/** The route group a path belongs to: the document's tags. */
function tagOf(url: string): string {
  if (url.startsWith("/content/purchase")) return "purchase";
  if (url.startsWith("/content/")) return "content";
  if (url.startsWith("/static/")) return "content";
  if (url.startsWith("/user/")) return "user";
  if (url.startsWith("/cache/")) return "cache";
  if (url.startsWith("/:token/")) return "delivery";
  if (url.startsWith("/console/")) return "console";
  return "node";
}

const TAGS: Record<string, string> = {
  node: "What every node answers: welcome, ping, counters, health, metrics",
  user: "Login and sessions (X-OOSE-Token)",
  content: "Upload, import, lookups, download and the static redirect",
  purchase: "Purchases: the tokens content is delivered under",
  cache: "The prism's caches",
  delivery: "Delivery of a purchase: a redirect to a signed store URL",
  console: "The web console's own JSON (the cluster view, for admins)",
};

/** Swagger UI's assets, as installed: the page needs nothing from elsewhere. */
const PAGE_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve("@fastify/swagger-ui")), "static");

const plain = (schema: unknown): Json => JSON.parse(JSON.stringify(schema));

/** A route's replies for the document: the shared error body and the streamed bytes marked for transformObject. */
function documentReplies(response: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(response)) {
    if (schema === ErrorBody) out[status] = { type: "object", [MARK]: "error" };
    else if (schema === Bytes) out[status] = { type: "string", [MARK]: "bytes" };
    else out[status] = schema;
  }
  return out;
}

function errorReply(status: number): Json {
  const codes = codesOf(status);
  const list = codes.length ? codes.join(", ") : "none of its own";
  return {
    description: `Error. Codes for ${status}: ${list}; or a fastify client error (${status < 500 ? "its code without FST_ERR_" : "none"}).`,
    content: {
      "application/json": {
        schema: { $ref: ERROR_REF, properties: { code: { type: "string", examples: [...codes] } } },
      },
    },
  };
}

const BYTES_REPLY: Json = {
  description: "The file's bytes, streamed",
  content: { "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } } },
};
const METRICS_REPLY: Json = {
  description: "Prometheus text exposition",
  content: { "text/plain": { schema: { type: "string" } } },
};
const REDIRECT_REPLY: Json = {
  description: "Found: the content is at the Location given (a signed store URL)",
  headers: { Location: { schema: { type: "string" }, description: "Where the bytes are" } },
};

/** Completes each operation's responses: error bodies by reference with their codes, bytes, bodiless successes. */
function completeResponses(path: string, op: Json): void {
  const responses = (op.responses ?? {}) as Record<string, Json>;
  for (const [status, reply] of Object.entries(responses)) {
    const media = (reply.content ?? {}) as Record<string, { schema?: Json }>;
    const mark = Object.values(media)[0]?.schema?.[MARK];
    if (mark === "error") responses[status] = errorReply(Number(status));
    else if (mark === "bytes") responses[status] = { ...BYTES_REPLY };
  }
  if (!Object.keys(responses).some((s) => s.startsWith("2") || s.startsWith("3"))) {
    responses[path === "/metrics" ? "200" : "302"] = path === "/metrics" ? METRICS_REPLY : REDIRECT_REPLY;
  }
  op.responses = responses;
}

function completeDocument(doc: Json): Json {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>;
  for (const [path, item] of Object.entries(paths)) for (const op of Object.values(item)) completeResponses(path, op);
  const components = (doc.components ?? {}) as Json;
  components.schemas = { ...(components.schemas as Json), ErrorBody: plain(ErrorBody) };
  doc.components = components;
  return doc;
}

/**
 * Installs the document's builder on a node's app, at once: called as a
 * function, not registered as a plugin (which would load after the routes the
 * node adds at once, and miss them), it listens to every route from here on.
 */
export function useOpenApi(app: FastifyInstance, role: "prism" | "store"): void {
  const title = role === "prism" ? "OOSE prism API" : "OOSE store API";
  const tags = Object.entries(TAGS)
    .filter(([name]) => role === "prism" || name === "node" || name === "content")
    .map(([name, description]) => ({ name, description }));
  const done = (err?: Error) => {
    if (err) throw err;
  };
  fastifySwagger(
    app,
    {
      openapi: {
        openapi: "3.1.0",
        info: {
          title,
          version: VERSION,
          description:
            role === "prism"
              ? "The front door of an OOSE cluster: uploads, lookups, purchases and delivery."
              : "One disk of an OOSE cluster, spoken to by prisms and other stores. Behind the store's basic auth.",
        },
        tags,
        components: {
          securitySchemes: {
            session: {
              type: "apiKey",
              in: "header",
              name: "X-OOSE-Token",
              description: "A session token from /user/login",
            },
            basic: {
              type: "http",
              scheme: "basic",
              description: `The ${role}'s own credentials (config auth.${role})`,
            },
          },
        },
      },
      transform: ({ schema, url }) => {
        const s = { ...(schema ?? {}) } as Json;
        if (!s.hide) {
          s.tags = [tagOf(url)];
          if (s.response) s.response = documentReplies(s.response as Record<string, unknown>);
        }
        return { schema: s as typeof schema, url };
      },
      transformObject: (o) => completeDocument(("openapiObject" in o ? o.openapiObject : o.swaggerObject) as Json),
    },
    done,
  );
}

/** Who may call a route, as the document says: the guard it runs, or one scheme for a whole scope. */
export interface Guards {
  session?: Guard;
  basic?: Guard;
  /** Routes that read X-OOSE-Token themselves. */
  tokenOnly?: string[];
}

/**
 * Names the security scheme of every route registered on `scope` from now on,
 * from the guard it runs (or `scheme` for every route of a guarded scope). At
 * registration only: the route's schema gets `security`, nothing runs per request.
 */
export function documentGuards(scope: FastifyInstance, guards: Guards | Scheme): void {
  const pick = (route: RouteOptions): Scheme | undefined => {
    if (typeof guards === "string") return guards;
    const hooks = [route.preHandler, route.onRequest].flat();
    if (guards.session && hooks.includes(guards.session)) return "session";
    if (guards.basic && hooks.includes(guards.basic)) return "basic";
    if (guards.tokenOnly?.includes(route.url)) return "token";
    return undefined;
  };
  scope.addHook("onRoute", (route) => {
    const scheme = pick(route);
    if (scheme) route.schema = { ...route.schema, security: SECURITY[scheme].map((r) => ({ ...r })) } as never;
  });
}

/** GET /openapi.json (and, with `page`, the reference page under /docs), as routes of `scope`. */
export async function publishOpenApi(scope: FastifyInstance, o: { page: boolean }): Promise<void> {
  const root = scope as FastifyInstance & { swagger(): Json };
  scope.get("/openapi.json", { schema: { hide: true } }, async () => root.swagger());
  // The page's plugin called from a plain one: as registered itself, it checks that the builder above was
  // registered as a plugin, which it was not. Its routes and their CSP hook stay in their own scope.
  // (Typed as a callback plugin, it is an async one.)
  const ui = fastifySwaggerUi as unknown as FastifyPluginAsync<FastifySwaggerUiOptions>;
  const page: FastifyPluginAsync<FastifySwaggerUiOptions> = async (s, opts) => ui(s, opts);
  if (o.page)
    await scope.register(page, {
      routePrefix: "/docs",
      // No badge from the online validator: the page asks nothing of another host.
      uiConfig: { deepLinking: true, validatorUrl: null },
      staticCSP: true,
      // /docs/* serves files for external $refs (there are none): only the page's own folder, not its package.
      baseDir: PAGE_DIR,
    });
}

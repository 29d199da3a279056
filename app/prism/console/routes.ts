import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type ClusterStatus, consoleRoutes as routes } from "../../contracts/console.js";
import type { Session } from "../../contracts/prism.js";
import { actorOf } from "../../core/purchase.js";
import { BackendUnavailable, Forbidden, NotFound } from "../../errors.js";
import type { PrismContext } from "../context.js";
import { CONSOLE_CSS, INDEX_HTML } from "./page.js";
import { RecentErrors } from "./recent-errors.js";

// The web console under /console: a page of plain HTML, CSS and JS modules
// (./page.ts and ./assets, read once at startup) over the prism's own JSON API, and the
// cluster view's JSON for admins. The page holds its session token and sends
// it as X-OOSE-Token like any client; nothing here reads a cookie.

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "assets");
const SCRIPT = "text/javascript; charset=utf-8";

/** Only the prism's own files, and no inline script or style: what an injected tag could do is next to nothing. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The page, its style sheet and its scripts (.mjs, which a compiled app carries beside its own code). */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const out = new Map([
    ["index.html", { body: Buffer.from(INDEX_HTML), type: "text/html; charset=utf-8" }],
    ["console.css", { body: Buffer.from(CONSOLE_CSS), type: "text/css; charset=utf-8" }],
  ]);
  for (const name of readdirSync(DIR).filter((n) => n.endsWith(".mjs")))
    out.set(name, { body: readFileSync(path.join(DIR, name)), type: SCRIPT });
  return out;
}

/** Gathers the cluster view (app/compose/console.ts). */
export type ClusterSource = () => Promise<ClusterStatus>;

/** Before the other routes: its failure log watches every route registered after it. */
export function consoleRoutes(ctx: PrismContext, status: ClusterSource | undefined): void {
  const { app, config } = ctx;
  const assets = loadAssets();
  const recent = new RecentErrors();
  recent.watch(app);

  const send = (reply: FastifyReply, name: string) => {
    const asset = assets.get(name);
    if (!asset) throw new NotFound("No such console asset");
    return reply
      .header("content-type", asset.type)
      .header("content-security-policy", CSP)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .header("cache-control", "no-cache")
      .send(asset.body);
  };
  for (const url of ["/console", "/console/"])
    app.get(url, { schema: routes.page }, async (_req, reply) => send(reply, "index.html"));
  app.get("/console/:asset", { schema: routes.asset }, async (req, reply) => send(reply, req.params.asset));

  /** Admins: a session with an admin role, or the prism's own basic auth (the operator's). */
  const admin = async (req: FastifyRequest) => {
    const session = (req as FastifyRequest & { session?: Session }).session;
    if (!actorOf(session?.data.userCtx).admin) throw new Forbidden("The cluster view is for admins");
  };
  app.get("/console/api/cluster", { preHandler: [ctx.session, admin], schema: routes.cluster }, async () => {
    if (!status) throw new BackendUnavailable("This prism was built without the cluster view's backends");
    return { ...(await status()), seenBy: config.name, errors: recent.list() };
  });
}

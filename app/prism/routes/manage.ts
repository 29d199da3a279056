import { prismRoutes as routes } from "../../contracts/prism.js";
import { normalizeHash } from "../../core/hash.js";
import type { PrismContext } from "../context.js";
import { actor } from "./purchase.js";

// POST /content/list and /content/delete: a user's own uploads, newest first,
// and deleting them (app/prism/ownership.ts). Admins (an admin role, or the
// prism's basic auth) list anyone's and take down any content.

export async function manageRoutes(ctx: PrismContext): Promise<void> {
  const { app, ownership } = ctx;
  app.post("/content/list", { preHandler: ctx.session, schema: routes.list }, async (req) =>
    ownership.list(actor(req), req.body),
  );
  app.post("/content/delete", { preHandler: ctx.session, schema: routes.delete }, async (req) => {
    const outcome = await ownership.delete(actor(req), normalizeHash(req.body.hash));
    app.counters.inc(`stat:prism:content:${outcome.deleted ? "takedown" : "release"}`);
    return outcome;
  });
}

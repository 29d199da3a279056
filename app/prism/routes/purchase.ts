import type { FastifyRequest } from "fastify";
import { prismRoutes as routes } from "../../contracts/prism.js";
import { normalizeHash } from "../../core/hash.js";
import { normalizeExt } from "../../core/layout.js";
import { type Actor, actorOf, type Purchase, toRedisHash } from "../../core/purchase.js";
import { normalizeRule } from "../../core/referrer.js";
import { BadRequest, ContentNotFound } from "../../errors.js";
import type { PrismContext } from "../context.js";
import type { Purchases } from "../purchases.js";
import type { Session } from "../sessions.js";

// Purchases: create, find, update (OOSE documented these two but never routed
// them) and remove. Answers keep OOSE 2.2-final's record: every value a string,
// referrer comma-joined, plus its owner. A purchase belongs to the session's
// user; another user finds, updates or removes it no more than a missing one.
// Admins (an admin role, or the prism's basic auth) manage them all.

export const view = (p: Purchase) => toRedisHash(p);

/** The guard leaves a session on the request when it came with X-OOSE-Token, none for basic auth. */
export const sessionOf = (req: FastifyRequest) => (req as FastifyRequest & { session?: Session }).session;
export const actor = (req: FastifyRequest): Actor => actorOf(sessionOf(req)?.data.userCtx);

export async function purchaseRoutes(ctx: PrismContext, purchases: Purchases): Promise<void> {
  const { app, config, existence } = ctx;
  const lifeOf = (life: number | undefined) => {
    const value = life ?? config.purchase.life;
    if (value > config.purchase.maxLife) throw new BadRequest(`life may be at most ${config.purchase.maxLife} ms`);
    return value;
  };
  const rulesOf = (referrer: string[] | undefined) =>
    (referrer ?? []).map((r) => {
      const rule = normalizeRule(r);
      if (!rule) throw new BadRequest(`Invalid referrer: ${r.slice(0, 60)}`);
      return rule;
    });

  app.post("/content/purchase", { preHandler: ctx.session, schema: routes.purchase }, async (req) => {
    const hash = normalizeHash(req.body.hash ?? req.body.sha1);
    const ext = normalizeExt(req.body.ext);
    const record = await existence.record(hash);
    if (!record.exists) throw new ContentNotFound("File not found in the cluster");
    const owner = sessionOf(req)?.data.userCtx.name;
    const purchase = await purchases.create({
      ...{ hash, ext, referrer: rulesOf(req.body.referrer), life: lifeOf(req.body.life) },
      ...(owner ? { owner } : {}),
    });
    app.counters.inc("stat:prism:content:purchase");
    return view(purchase);
  });

  app.post("/content/purchase/find", { preHandler: ctx.session, schema: routes.purchaseFind }, async (req) =>
    view(await purchases.find(req.body.token, actor(req))),
  );

  app.post("/content/purchase/update", { preHandler: ctx.session, schema: routes.purchaseUpdate }, async (req) => {
    const { token, referrer, life } = req.body;
    const change = { referrer: referrer && rulesOf(referrer), life: life === undefined ? undefined : lifeOf(life) };
    return view(await purchases.update(token, actor(req), change));
  });

  app.post("/content/purchase/remove", { preHandler: ctx.session, schema: routes.purchaseRemove }, async (req) => {
    const count = await purchases.remove(req.body.token, actor(req));
    return { token: req.body.token, count, success: "Purchase removed" };
  });
}

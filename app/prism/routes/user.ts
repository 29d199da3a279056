import type { FastifyRequest } from "fastify";
import { prismRoutes as routes, type Session } from "../../contracts/prism.js";
import { InvalidCredentials, TooManyRequests, Unauthorized } from "../../errors.js";
import type { PrismContext } from "../context.js";
import type { Sessions } from "../sessions.js";

// /user/login, /logout, /session/validate and /session/renew. Every success is
// a 200 with OOSE's shapes, so existing clients keep working.

const TOKEN_HEADER = "x-oose-token";

export function tokenOf(req: FastifyRequest): string | undefined {
  const raw = req.headers[TOKEN_HEADER];
  return Array.isArray(raw) ? raw[0] : raw;
}

/** Session guard: a valid X-OOSE-Token, or else the prism's basic auth (OOSE's fallback). */
export function sessionGuard(sessions: Sessions, basic: PrismContext["privateAuth"]): PrismContext["session"] {
  return async (req, reply) => {
    const token = tokenOf(req);
    if (token !== undefined) {
      (req as FastifyRequest & { session?: unknown }).session = await sessions.get(token);
      return;
    }
    await basic(req, reply);
  };
}

export async function userRoutes(ctx: PrismContext, sessions: Sessions): Promise<void> {
  const { app, users, loginLimit: limit } = ctx;
  const requireToken = (req: FastifyRequest) => {
    const token = tokenOf(req);
    if (!token) throw new Unauthorized("X-OOSE-Token required");
    return token;
  };

  app.post("/user/login", { schema: routes.login }, async (req, reply) => {
    const { username, password } = req.body ?? {};
    if (!username || !password) throw new InvalidCredentials();
    let giveBack: () => Promise<void>;
    try {
      giveBack = await limit.attempt(req.ip, username);
    } catch (err) {
      if (err instanceof TooManyRequests) reply.header("retry-after", String(err.details?.retryAfter));
      throw err;
    }
    let user: Awaited<ReturnType<typeof users.login>>;
    try {
      user = await users.login(username, password);
    } catch (err) {
      // Only a wrong password counts against the client.
      if (!(err instanceof InvalidCredentials)) await giveBack();
      throw err;
    }
    await giveBack();
    const session = await sessions.open(user, req.ip);
    app.counters.inc("stat:prism:user:login");
    return { success: "User logged in", session };
  });

  app.post("/user/logout", { schema: routes.logout }, async (req) => {
    const token = requireToken(req);
    const session = await sessions.get(token);
    await sessions.logout(token);
    return { success: "User logged out", data: { userCtx: session.data.userCtx } };
  });

  app.post("/user/session/validate", { preHandler: ctx.session, schema: routes.validate }, async (req) => {
    const session = (req as FastifyRequest & { session?: Session }).session;
    return session ? { success: "Session valid", session } : { success: "Session valid" };
  });

  app.post("/user/session/renew", { schema: routes.renew }, async (req) => {
    const session = await sessions.renew(requireToken(req));
    return { success: "Session renewed", session };
  });
}

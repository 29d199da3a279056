import { Type as T } from "@sinclair/typebox";
import type { PrismContext } from "../context.js";

// /cache/flush and /cache/detail (private). The existence cache lives in this
// process; counters live in Redis under this node's key.

const Command = T.Object({
  command: T.Union([T.Literal("all"), T.Literal("existence"), T.Literal("stats")]),
});

export async function cacheRoutes(ctx: PrismContext): Promise<void> {
  const { app, existence, redis, config } = ctx;
  const statsKey = `${config.redis.prefix}:counter:${config.role}:${config.name}`;

  app.post("/cache/flush", { preHandler: ctx.privateAuth, schema: { body: Command } }, async (req) => {
    let count = 0;
    if (req.body.command !== "stats") count += existence.flush();
    if (req.body.command !== "existence") count += await redis.del(statsKey);
    return { success: "ok", count };
  });

  app.post("/cache/detail", { preHandler: ctx.privateAuth, schema: { body: Command } }, async (req) => {
    const data: Record<string, unknown> = {};
    if (req.body.command !== "stats") data.existence = { ...existence.cacheStats(), hashes: existence.cachedHashes() };
    if (req.body.command !== "existence") data.stats = await app.counters.snapshot();
    const count = (existence.cacheStats().size as number) + Object.keys(data.stats ?? {}).length;
    return { success: "ok", count, data };
  });
}

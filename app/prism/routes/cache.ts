import { type CacheDetailReply, prismRoutes as routes } from "../../contracts/prism.js";
import type { PrismContext } from "../context.js";

// /cache/flush and /cache/detail (private). The existence cache lives in this
// process; counters in the shared tallies under this node's name.

export async function cacheRoutes(ctx: PrismContext): Promise<void> {
  const { app, existence } = ctx;

  app.post("/cache/flush", { preHandler: ctx.privateAuth, schema: routes.cacheFlush }, async (req) => {
    let count = 0;
    if (req.body.command !== "stats") count += existence.flush();
    if (req.body.command !== "existence") count += await app.counters.clear();
    return { success: "ok", count };
  });

  app.post("/cache/detail", { preHandler: ctx.privateAuth, schema: routes.cacheDetail }, async (req) => {
    const data: CacheDetailReply["data"] = {};
    if (req.body.command !== "stats") data.existence = { ...existence.cacheStats(), hashes: existence.cachedHashes() };
    if (req.body.command !== "existence") data.stats = await app.counters.snapshot();
    const count = (existence.cacheStats().size as number) + Object.keys(data.stats ?? {}).length;
    return { success: "ok", count, data };
  });
}

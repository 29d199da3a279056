import { prismRoutes as routes } from "../../contracts/prism.js";
import { parseFileName } from "../../core/layout.js";
import { NoPlacement } from "../../errors.js";
import type { PrismContext } from "../context.js";

// PUT /content/put/:file (private): OOSE's prism→prism hop. The receiving prism
// streams the body to one of its own stores, which verifies the hash. The body
// is raw bytes whatever its content type: no parser may read it first.

export async function putRoutes(ctx: PrismContext): Promise<void> {
  // Elsewhere an octet-stream body reaches the route unread (and fails its schema as a body it cannot use).
  ctx.app.addContentTypeParser("application/octet-stream", (_req, _payload, done) => done(null));
  await ctx.app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null));
    putRoute(scope as PrismContext["app"], ctx);
  });
}

function putRoute(app: PrismContext["app"], ctx: PrismContext): void {
  const { config, pool } = ctx;
  app.put("/content/put/:file", { preHandler: ctx.privateAuth, schema: routes.put }, async (req, reply) => {
    const { hash, ext } = parseFileName(req.params.file);
    const own = pool.candidates().filter((c) => c.prism === config.name);
    const [target] = pool.rank(own, 1);
    if (!target) throw new NoPlacement("No suitable store instance found");
    const peer = pool.peer(target.name)!;
    const release = pool.begin(peer.name);
    try {
      const length = req.headers["content-length"];
      await pool.client(peer).put(`${hash}.${ext}`, req.raw, length === undefined ? undefined : Number(length));
      ctx.existence.invalidate(hash);
      return reply.status(201).send({ success: "File uploaded", file: `${hash}.${ext}`, store: peer.name });
    } finally {
      release();
    }
  });
}

import { prismRoutes as routes } from "../../contracts/prism.js";
import { normalizeHash } from "../../core/hash.js";
import { deniedExtensions } from "../../core/static-types.js";
import { AppError, BadRequest, ContentNotFound, Forbidden, PeerUnavailable } from "../../errors.js";
import type { PrismContext } from "../context.js";
import { withDeadline } from "../deadline.js";
import { checkDisplayName, forwardedProto, publicBase } from "../links.js";
import { readOrder } from "../read-order.js";

// Existence (detail/exists, single and bulk), API download and static redirects.

function hashesOf(body: { hash?: string | string[]; sha1?: string | string[] }, bulkMax: number) {
  const raw = body.hash ?? body.sha1;
  if (raw === undefined) throw new BadRequest("hash is required");
  if (Array.isArray(raw)) {
    if (raw.length > bulkMax) throw new BadRequest(`At most ${bulkMax} hashes per request`);
    return { bulk: true, hashes: raw.map(normalizeHash) };
  }
  return { bulk: false, hashes: [normalizeHash(raw)] };
}

export async function contentRoutes(ctx: PrismContext): Promise<void> {
  const { app, config, existence, pool } = ctx;
  const denied = new Set(deniedExtensions(config.denyStaticTypes));

  const lookup = (counter: string) => async (req: { body: { hash?: string | string[]; sha1?: string | string[] } }) => {
    app.counters.inc(`stat:prism:content:${counter}`);
    const { bulk, hashes } = hashesOf(req.body, config.limits.bulkMax);
    const records = await existence.records([...new Set(hashes)]);
    if (!bulk) return records[0];
    return Object.fromEntries(records.map((r) => [r.hash, r]));
  };
  app.post("/content/detail", { preHandler: ctx.session, schema: routes.detail }, lookup("detail"));
  app.post("/content/exists", { preHandler: ctx.privateAuth, schema: routes.exists }, lookup("exists"));

  app.post("/content/download", { preHandler: ctx.session, schema: routes.download }, async (req, reply) => {
    const hash = normalizeHash(req.body.hash ?? req.body.sha1);
    const copies = await existence.liveCopies(hash);
    if (copies.length === 0) throw new ContentNotFound();
    // Fall over to the next holder on a connection error or a slow answer, before any byte is sent.
    for (const { peer, copy } of readOrder(copies, pool)) {
      const release = pool.begin(peer.name);
      try {
        const deadline = config.limits.failoverTimeoutMs;
        const res = await withDeadline(
          pool.client(peer).download(hash, undefined, deadline),
          deadline,
          peer.name,
          (late) => late.body.destroy(),
        );
        pool.health.answered(peer.name);
        res.body.once("close", release);
        app.counters.inc("stat:prism:content:download");
        app.counters.inc("stat:prism:content:bytesDownloaded", copy.size);
        return reply
          .header("content-length", res.length)
          .type(copy.mimeType || "application/octet-stream")
          .send(res.body);
      } catch (err) {
        release();
        // Unreachable or timed out (not an answer such as 404): route around it until it answers again.
        if (!(err instanceof AppError) || err instanceof PeerUnavailable) pool.health.failed(peer.name);
        req.log.warn({ store: peer.name, err: (err as Error).message }, "download: holder failed, trying the next");
      }
    }
    throw new PeerUnavailable("File not available");
  });

  app.get("/static/:hash/:filename", { schema: routes.static }, async (req, reply) => {
    const hash = normalizeHash(req.params.hash);
    checkDisplayName(req.params.filename);
    const copies = await existence.liveCopies(hash);
    const first = copies[0]?.copy ?? (await existence.copies(hash))[0];
    if (!first) throw new ContentNotFound("Content does not exist");
    // The stored extension decides, not the requested name (OOSE's bypass).
    if (denied.has(first.mimeExtension.toLowerCase())) throw new Forbidden("Invalid static file type");
    const [pick] = readOrder(copies, pool, "public");
    if (!pick) throw new PeerUnavailable("File not available");
    app.counters.inc("stat:prism:content:static");
    const base = publicBase(pick.peer, config.domain, forwardedProto(req.headers, "http"));
    return reply.redirect(`${base}/static/${pick.copy.relativePath}`, 302);
  });
}

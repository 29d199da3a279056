import { normalizeHash } from "../../core/hash.js";
import { parseFileName } from "../../core/layout.js";
import { BadRequest, ContentNotFound, RangeNotSatisfiable } from "../../errors.js";
import type { NodeApp } from "../../http/node.js";
import { mimeOf } from "../../core/inventory.js";
import type { StoreContext } from "../context.js";
import { parseRange } from "../range.js";
import { storeRoutes as routes } from "../../contracts/store.js";
import { sendCopy } from "../send.js";

// The read and maintenance side of the store API (spec §3.2).

export async function contentRoutes(ctx: StoreContext, app: NodeApp): Promise<void> {
  const { content, config } = ctx;

  app.post("/content/download", { schema: routes.download }, async (req, reply) => {
    const blob = await content.find(normalizeHash(req.body.hash));
    const range = parseRange(req.headers.range, blob.size);
    if (range === "unsatisfiable") {
      reply.header("content-range", `bytes */${blob.size}`);
      throw new RangeNotSatisfiable();
    }
    const opened = await content.blobs.open(blob, range);
    if (!opened) throw new ContentNotFound();
    const length = range ? range.end - range.start + 1 : opened.size;
    reply.header("accept-ranges", "bytes").header("etag", `"${blob.hash}"`).header("content-length", length);
    if (range) reply.code(206).header("content-range", `bytes ${range.start}-${range.end}/${opened.size}`);
    app.counters.inc("stat:store:content:download");
    app.counters.inc("stat:store:content:bytesDownloaded", length);
    return reply.type(mimeOf(blob.ext)).send(opened.stream);
  });

  app.post("/content/exists", { schema: routes.exists }, async (req) => {
    const { hash } = req.body;
    const list = Array.isArray(hash) ? hash : [hash];
    if (list.length > config.limits.bulkMax) throw new BadRequest(`At most ${config.limits.bulkMax} hashes per call`);
    const hashes = list.map(normalizeHash);
    const found = await content.exists(hashes);
    return Array.isArray(hash) ? Object.fromEntries(found) : { exists: found.get(hashes[0]!)! };
  });

  app.post("/content/detail", { schema: routes.detail }, async (req) => content.detail(normalizeHash(req.body.hash)));

  app.post("/content/verify", { schema: routes.verify }, async (req) =>
    content.verify(parseFileName(req.body.file).hash, req.body.force ?? false),
  );

  app.post("/content/remove", { schema: routes.remove }, async (req) => content.remove(normalizeHash(req.body.hash)));

  app.post("/content/send", { schema: routes.send }, async (req) => sendCopy(ctx, req.body.file, req.body.store));
}

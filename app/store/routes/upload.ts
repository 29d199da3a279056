import type { FastifyRequest } from "fastify";
import { parseFileName } from "../../core/layout.js";
import { InvalidFileName, PayloadTooLarge } from "../../errors.js";
import type { NodeApp } from "../../http/node.js";
import type { StoreContext } from "../context.js";
import { COMMIT_TRAILER, storeRoutes as routes } from "../../contracts/store.js";

// The write side: PUT /content/put/<hash>.<ext> (hash known up front) and the
// staged pair PUT /content/stage/<id> + POST /content/commit|abort used by the
// prism while it is still hashing. Bodies are streams, never buffered.

/** Refuses an announced Content-Length over the limit before reading a byte (the stream is capped too). */
function announcedSize(req: FastifyRequest, max: number): void {
  if (Number(req.headers["content-length"] ?? 0) > max) throw new PayloadTooLarge(`Upload exceeds ${max} bytes`);
}

/** Routes whose body is raw bytes: every content type is passed through untouched as req.raw. */
async function streamRoutes(app: NodeApp, ctx: StoreContext): Promise<void> {
  const { content, staging, config } = ctx;
  const max = config.limits.uploadMaxBytes;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_req, _payload, done) => done(null));

  // A wildcard, so a name with "/" reaches the layout guard and gets INVALID_FILE_NAME rather than a 404.
  app.put("/content/put/*", { schema: routes.put }, async (req, reply) => {
    const name = req.params["*"];
    if (/[/\\\0]|\.\./.test(name)) throw new InvalidFileName(`Invalid file name: ${name.slice(0, 140)}`);
    const id = parseFileName(name);
    announcedSize(req, max);
    const put = await content.put(id, req.raw);
    app.counters.inc("stat:store:content:put");
    app.counters.inc("stat:store:content:bytesUploaded", put.size);
    return reply.code(201).send(put);
  });

  // With a `x-oose-commit` trailer announced, the request itself ends the stage: the trailer names the
  // file to commit (hash checked, as on commit) or says `abort`. Without it, commit/abort follow apart.
  app.put("/content/stage/:id", { schema: routes.stage }, async (req, reply) => {
    announcedSize(req, max);
    const { id } = req.params;
    const type = req.query.hashType ?? config.defaultHashType;
    const staged = await staging.receive(id, req.raw, type);
    if (
      !String(req.headers.trailer ?? "")
        .toLowerCase()
        .includes(COMMIT_TRAILER)
    ) {
      return reply.code(201).send({ id, hash: staged.hash, size: staged.size });
    }
    const order = req.raw.trailers[COMMIT_TRAILER];
    if (!order || order === "abort") {
      await staging.abort(id);
      return reply.code(200).send({ id, hash: staged.hash, size: staged.size, committed: false });
    }
    const put = await content.commit(staging.take(id), parseFileName(order));
    app.counters.inc("stat:store:content:put");
    app.counters.inc("stat:store:content:bytesUploaded", put.size);
    return reply.code(201).send({ id, ...put, committed: true });
  });
}

export async function uploadRoutes(ctx: StoreContext, app: NodeApp): Promise<void> {
  const { content, staging } = ctx;
  await app.register(async (scope) => streamRoutes(scope as NodeApp, ctx));

  app.post("/content/commit", { schema: routes.commit }, async (req, reply) => {
    const id = parseFileName(req.body.file);
    const put = await content.commit(staging.take(req.body.id), id);
    app.counters.inc("stat:store:content:put");
    app.counters.inc("stat:store:content:bytesUploaded", put.size);
    return reply.code(201).send(put);
  });

  app.post("/content/abort", { schema: routes.abort }, async (req) => ({
    success: "Staged upload dropped",
    dropped: await staging.abort(req.body.id),
  }));
}

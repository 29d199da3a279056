import multipart from "@fastify/multipart";
import { prismRoutes as routes, type UploadedFile } from "../../contracts/prism.js";
import { isHashType } from "../../core/hash.js";
import { normalizeExt } from "../../core/layout.js";
import {
  type AppError,
  BackendUnavailable,
  BadRequest,
  ClientAborted,
  Internal,
  InvalidMultipart,
  PayloadTooLarge,
  UnsupportedMediaType,
} from "../../errors.js";
import { classify } from "../../http/errors.js";
import type { PrismContext } from "../context.js";
import type { Placed } from "../place.js";
import type { Retriever } from "../retrieve.js";
import { sessionOf } from "./purchase.js";
import mime from "mime-types";

// POST /content/upload (multipart) and /content/retrieve (from a URL).
// Upload: multipart, any number of files, hashed and placed as
// they stream. `hashType` (and any field) must come before the files.

export function extensionFor(filename: string | undefined, mimetype: string | undefined): string {
  const fromName = filename?.includes(".") ? filename.slice(filename.lastIndexOf(".") + 1).toLowerCase() : "";
  if (/^[a-z0-9]{1,16}$/.test(fromName)) return fromName;
  const fromMime = mimetype && mimetype !== "application/octet-stream" ? mime.extension(mimetype) : false;
  return fromMime ? normalizeExt(fromMime) : "bin";
}

/** Uploads need the inventory: while CouchDB is known to be out, refuse before reading a byte. */
function needInventory(ctx: PrismContext): void {
  if (!ctx.peers.healthy) throw new BackendUnavailable("CouchDB unavailable: uploads are paused");
}

/** A failure of the multipart parser (busboy) or of the request under it: always the client's. */
function multipartError(err: unknown): AppError {
  const known = classify(err);
  // A programming error downstream reaches the file too, through pipeline(): it stays a bug.
  if (!(known instanceof Internal) || err instanceof TypeError || err instanceof RangeError) return known;
  return new InvalidMultipart(
    `Malformed multipart body: ${String((err as Error)?.message).slice(0, 100)}`,
    undefined,
    err,
  );
}

/** Rejects when the next part takes longer than `ms` to arrive (a client stalled between parts). */
function nextPart<T>(it: AsyncIterator<T>, ms: number): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClientAborted(`No upload data for ${ms} ms`)), ms);
  });
  return Promise.race([it.next(), idle]).finally(() => clearTimeout(timer));
}

/**
 * The parts, with the parser's own failures classified; failures of the loop's body pass as they are.
 * Within a file the placer watches for a stalled client; between parts, this does.
 */
async function* parsedParts<T>(parts: () => AsyncIterable<T>, idleMs: number): AsyncGenerator<T> {
  let it: AsyncIterator<T> | undefined;
  let stalled = false;
  try {
    for (;;) {
      let next: IteratorResult<T>;
      try {
        it ??= parts()[Symbol.asyncIterator]();
        next = await nextPart(it, idleMs);
      } catch (err) {
        stalled = err instanceof ClientAborted;
        throw stalled ? err : multipartError(err);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // A stalled parser would hold return() behind the next() it never answers.
    if (stalled) void it?.return?.();
    else await it?.return?.();
  }
}

export async function uploadRoutes(ctx: PrismContext): Promise<void> {
  const { app, config, placer } = ctx;
  await app.register(multipart, {
    limits: { fileSize: config.limits.uploadMaxBytes, files: 64, fields: 64, fieldSize: 64 * 1024 },
  });

  app.post("/content/upload", { preHandler: ctx.session, schema: routes.upload }, async (req) => {
    if (!req.isMultipart()) throw new UnsupportedMediaType("Expected multipart/form-data");
    needInventory(ctx);
    let hashType = config.defaultHashType;
    const fields: Record<string, unknown> = {};
    const files: Record<string, UploadedFile> = {};
    const placedAll: Placed[] = [];
    // A request that fails part-way keeps the files it already placed: content is shared, and an
    // identical upload may have been answered with those copies meanwhile.
    await readParts();
    if (Object.keys(files).length === 0) throw new BadRequest("No file in the upload");
    // Durable before the answer: the session's user owns what it uploaded.
    await ctx.ownership.uploaded(sessionOf(req)?.data.userCtx.name, placedAll);
    return { success: "File(s) uploaded", data: { fields }, files };

    async function readParts() {
      for await (const part of parsedParts(() => req.parts(), config.limits.clientIdleMs)) {
        if (part.type === "field") {
          if (Object.keys(files).length > 0) {
            throw new BadRequest(`Field "${part.fieldname}" after a file: send fields first`);
          }
          if (part.fieldname === "hashType") {
            if (!isHashType(part.value))
              throw new BadRequest(`Unsupported hashType: ${String(part.value).slice(0, 20)}`);
            hashType = part.value;
          }
          fields[part.fieldname] = part.value;
          continue;
        }
        const ext = extensionFor(part.filename, part.mimetype);
        // The parser fails the file by destroying it, possibly before this loop has taken the part.
        let parserError: unknown = part.file.errored ?? undefined;
        part.file.once("error", (err) => {
          parserError ??= err;
        });
        // Past the size limit the parser ends the file early (truncated) and fails the request afterwards.
        const placed = await placer
          .place(part.file, ext, hashType, () => {
            if (part.file.truncated) throw new PayloadTooLarge(`Upload exceeds ${config.limits.uploadMaxBytes} bytes`);
          })
          .catch((err: unknown) => {
            throw err === parserError ? multipartError(err) : err;
          });
        placedAll.push(placed);
        app.counters.inc("stat:prism:content:upload");
        app.counters.inc("stat:prism:content:bytesUploaded", placed.size);
        files[part.fieldname] = {
          key: part.fieldname,
          name: part.filename,
          encoding: part.encoding,
          mimetype: part.mimetype,
          ext,
          hash: placed.hash,
          [placed.hashType]: placed.hash,
          hashType: placed.hashType,
          size: placed.size,
          copies: placed.copies,
          added: placed.added,
        };
      }
    }
  });
}

/** POST /content/retrieve: import from a URL and place it like an upload. */
export async function retrieveRoutes(ctx: PrismContext, retriever: Retriever): Promise<void> {
  const { app, config, placer } = ctx;
  app.post("/content/retrieve", { preHandler: ctx.session, schema: routes.retrieve }, async (req) => {
    const hashType = req.body.hashType ?? config.defaultHashType;
    if (!isHashType(hashType)) throw new BadRequest(`Unsupported hashType: ${hashType.slice(0, 20)}`);
    needInventory(ctx);
    const fetched = await retriever.fetch(req.body.request.url);
    const ext = req.body.extension
      ? normalizeExt(req.body.extension)
      : extensionFor(new URL(fetched.url).pathname.split("/").pop(), fetched.contentType?.split(";")[0]);
    const placed = await placer.place(fetched.body, ext, hashType);
    await ctx.ownership.uploaded(sessionOf(req)?.data.userCtx.name, [placed]);
    app.counters.inc("stat:prism:content:retrieve");
    return {
      hash: placed.hash,
      extension: ext,
      [hashType]: placed.hash,
      hashType,
      size: placed.size,
      copies: placed.copies,
    };
  });
}

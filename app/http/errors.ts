import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import {
  AppError,
  BadRequest,
  ClientAborted,
  HeadersTooLarge,
  Internal,
  NotFound,
  RequestTimeout,
} from "../errors.js";

// One place turns every failure into `{error, code}` with a real status, for
// the fastify routes and the raw fast paths alike. Errors are classified where
// they arise; here only fastify's own (FST_*) 4xx keep the status they carry.
// Anything else unclassified is a bug: a 500.

interface Raw {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  message?: string;
}

/** The request under a route ended before its body did: nobody is left to answer. */
export function isClientAbort(err: unknown): boolean {
  const e = err as Raw | undefined;
  return (
    (e?.code === "ECONNRESET" && e.message === "aborted") ||
    e?.code === "ERR_STREAM_PREMATURE_CLOSE" ||
    e?.code === "FST_MP_PREMATURE_CLOSE"
  );
}

/** Fastify's and its plugins' own client errors; nobody else's status is trusted. */
function fastifyClientError(e: Raw): AppError | undefined {
  if (typeof e.code !== "string" || !e.code.startsWith("FST_")) return undefined;
  const status = e.statusCode;
  if (typeof status !== "number" || status < 400 || status >= 500) return undefined;
  return new AppError(e.code.replace(/^FST_(ERR_)?/, ""), status, e.message ?? "Bad request");
}

export function classify(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = (err ?? {}) as Raw;
  if (e.validation) return new BadRequest(`Invalid request: ${e.message}`);
  if (isClientAbort(err)) return new ClientAborted(undefined, undefined, err);
  return fastifyClientError(e) ?? new Internal(undefined, undefined, err);
}

/** Logs a failure the way every route does: 5xx with its cause, anything else at debug. */
export function logFailure(log: FastifyBaseLogger, appError: AppError, err: unknown, url: string | undefined): void {
  if (appError.status >= 500) log.error({ err: appError.cause ?? err, url }, appError.message);
  else log.debug({ code: appError.code, url }, appError.message);
}

/** The answer a raw (non-fastify) handler gives for `err`, the same as a fastify route's. */
export function sendFailure(log: FastifyBaseLogger, res: ServerResponse, err: unknown, url: string | undefined): number {
  const appError = classify(err);
  logFailure(log, appError, err, url);
  if (res.headersSent) {
    res.destroy();
    return appError.status;
  }
  const body = JSON.stringify(appError.toJSON());
  res
    .writeHead(appError.status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
    })
    .end(body);
  return appError.status;
}

/** A request too malformed to reach fastify's router (bad request line, headers over the limit, too slow). */
function clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const appError =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? new RequestTimeout()
      : err.code === "HPE_HEADER_OVERFLOW"
        ? new HeadersTooLarge()
        : new BadRequest("Malformed HTTP request");
  const body = JSON.stringify(appError.toJSON());
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${appError.status} ${appError.message}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export function installErrorHandling(app: FastifyInstance): void {
  // In place of fastify's own answer, whose body has no code.
  app.server.removeAllListeners("clientError");
  app.server.on("clientError", clientError);
  app.setErrorHandler((err, req, reply) => {
    const appError = classify(err);
    logFailure(req.log, appError, err, req.url);
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return;
    }
    return reply.status(appError.status).type("application/json; charset=utf-8").send(appError.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const err = new NotFound(`Not found: ${req.method} ${req.url.split("?")[0]}`);
    return reply.status(404).send(err.toJSON());
  });
}

import type { FastifyBaseLogger, FastifyError, FastifyInstance } from "fastify";
import { AppError, BadRequest, Internal, NotFound } from "../errors.js";

// One place turns every failure into `{error, code}` with a real status.
// Fastify's own 4xx (bad JSON, wrong media type, body too large) keep their status.

function fromFastify(err: FastifyError): AppError {
  if (err.validation) return new BadRequest(`Invalid request: ${err.message}`);
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return new AppError(err.code?.replace(/^FST_ERR_/, "") ?? "BAD_REQUEST", status, err.message);
  }
  return new Internal(undefined, undefined, err);
}

/** Logs a failure the way every route does: 5xx with its cause, anything else at debug. */
export function logFailure(log: FastifyBaseLogger, appError: AppError, err: unknown, url: string | undefined): void {
  if (appError.status >= 500) log.error({ err: appError.cause ?? err, url }, appError.message);
  else log.debug({ code: appError.code, url }, appError.message);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const appError = err instanceof AppError ? err : fromFastify(err);
    logFailure(req.log, appError, err, req.url);
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return;
    }
    return reply.status(appError.status).type("application/json").send(appError.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const err = new NotFound(`Not found: ${req.method} ${req.url.split("?")[0]}`);
    return reply.status(404).send(err.toJSON());
  });
}

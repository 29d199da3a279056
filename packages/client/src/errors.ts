// Every failure the client reports is an OoseError with a `code` and a `status`.
// An answer from the prism keeps its body's code (`{error, code}`, the codes of
// OOSE's app/errors.ts) and its HTTP status, in the class of that status. A
// call that got no answer has status 0 and a code of the client's own.

export class OoseError extends Error {
  readonly code: string;
  /** The HTTP status, or 0 when no answer came. */
  readonly status: number;
  /** What the error body carried besides `error` and `code` (e.g. `retryAfter`). */
  readonly details: Record<string, unknown>;

  constructor(code: string, status: number, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

/** 400: the prism refused the request (a bad hash, name, referrer or life). */
export class BadRequestError extends OoseError {}
/** 401: no session, a bad or expired token, or wrong credentials. */
export class UnauthorizedError extends OoseError {}
/** 403: a denied referrer, static type or address. */
export class ForbiddenError extends OoseError {}
/** 404: no such content or purchase. */
export class NotFoundError extends OoseError {}
/** 410: the purchase expired. */
export class GoneError extends OoseError {}
/** 413: over the prism's size limit. */
export class PayloadTooLargeError extends OoseError {}
/** 429: too many failed logins; `details.retryAfter` says when to try again. */
export class TooManyRequestsError extends OoseError {}
/** 503: CouchDB, Redis or every holder unavailable; worth retrying later. */
export class UnavailableError extends OoseError {}
/** Any other 5xx. */
export class ServerError extends OoseError {}
/** No answer: the connection failed or broke (status 0). */
export class TransportError extends OoseError {}
/** No answer in time, or the body stalled (status 0, code TIMEOUT). */
export class TimeoutError extends TransportError {}

export const TRANSPORT_FAILED = "TRANSPORT_FAILED";
/** An upload's own source failed (a file that cannot be read, a stream that errored); status 0. */
export const SOURCE_FAILED = "SOURCE_FAILED";
export const TIMEOUT = "TIMEOUT";

const BY_STATUS: Record<number, typeof OoseError> = {
  400: BadRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  410: GoneError,
  413: PayloadTooLargeError,
  429: TooManyRequestsError,
  503: UnavailableError,
};

const classOf = (status: number) => BY_STATUS[status] ?? (status >= 500 ? ServerError : OoseError);

/** The error of a non-2xx answer; a body that is not `{error, code}` (a proxy's page) gets `HTTP_<status>`. */
export function errorFromReply(status: number, text: string, what: string): OoseError {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const Kind = classOf(status);
  if (body && typeof body === "object" && typeof (body as { error?: unknown }).error === "string") {
    const { error, code, ...details } = body as { error: string; code?: unknown };
    return new Kind(typeof code === "string" ? code : `HTTP_${status}`, status, error, details);
  }
  return new Kind(`HTTP_${status}`, status, `${what} answered ${status}`);
}

const TIMEOUT_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ETIMEDOUT",
]);

/** A failure below HTTP (undici's or the socket's), as a TransportError or TimeoutError. */
export function transportError(err: unknown, what: string): OoseError {
  if (err instanceof OoseError) return err;
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (code && TIMEOUT_CODES.has(code)) return new TimeoutError(TIMEOUT, 0, `${what}: no answer in time`, {}, err);
  return new TransportError(TRANSPORT_FAILED, 0, `${what}: ${(err as Error).message ?? err}`, {}, err);
}

// Every error a client can see: a stable code, an HTTP status and a human message.
// 5xx bodies never carry internals; the cause is logged instead.

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: string, status: number, message: string, details?: Record<string, unknown>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
  }

  toJSON(): Record<string, unknown> {
    return { error: this.message, code: this.code, ...this.details };
  }
}

const kind = (code: string, status: number, fallback: string) =>
  class extends AppError {
    static readonly code = code;
    static readonly status = status;
    constructor(message = fallback, details?: Record<string, unknown>, cause?: unknown) {
      super(code, status, message, details, cause);
    }
  };

export class BadRequest extends kind("BAD_REQUEST", 400, "Bad request") {}
export class InvalidHash extends kind("INVALID_HASH", 400, "Invalid hash") {}
export class InvalidToken extends kind("INVALID_TOKEN", 400, "Invalid purchase token") {}
export class InvalidFileName extends kind("INVALID_FILE_NAME", 400, "Invalid file name") {}
export class InvalidMultipart extends kind("INVALID_MULTIPART", 400, "Malformed multipart body") {}
export class Unauthorized extends kind("UNAUTHORIZED", 401, "Unauthorized") {}
export class InvalidCredentials extends kind("INVALID_CREDENTIALS", 401, "Invalid username or password") {}
export class Forbidden extends kind("FORBIDDEN", 403, "Forbidden") {}
export class ReferrerDenied extends kind("REFERRER_DENIED", 403, "Invalid request (referrer fail)") {}
export class ContentNotFound extends kind("CONTENT_NOT_FOUND", 404, "File not found") {}
export class PurchaseNotFound extends kind("PURCHASE_NOT_FOUND", 404, "Purchase not found") {}
export class NotFound extends kind("NOT_FOUND", 404, "Not found") {}
export class PurchaseExpired extends kind("PURCHASE_EXPIRED", 410, "Purchase expired") {}
export class RequestTimeout extends kind("REQUEST_TIMEOUT", 408, "Request timeout") {}
export class HeadersTooLarge extends kind("HEADERS_TOO_LARGE", 431, "Request headers too large") {}
export class PayloadTooLarge extends kind("PAYLOAD_TOO_LARGE", 413, "Payload too large") {}
export class RangeNotSatisfiable extends kind("RANGE_NOT_SATISFIABLE", 416, "Range not satisfiable") {}
export class UnsupportedMediaType extends kind("UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported media type") {}
export class InventoryConflict extends kind("INVENTORY_CONFLICT", 409, "The inventory record changed meanwhile") {}
export class HashMismatch extends kind("HASH_MISMATCH", 422, "Checksum mismatch") {}
export class VerifyFailed extends kind("VERIFY_FAILED", 422, "File verify failed") {}
export class ClientAborted extends kind("CLIENT_ABORTED", 400, "Request body ended early") {}
export class SendFailed extends kind("SEND_FAILED", 502, "Failed to send clone") {}
export class TooManyRequests extends kind("TOO_MANY_REQUESTS", 429, "Too many requests") {}
export class UpstreamFailed extends kind("UPSTREAM_FAILED", 502, "The remote server failed") {}
export class UpstreamTimeout extends kind("UPSTREAM_TIMEOUT", 504, "The remote server timed out") {}
export class NoPlacement extends kind("NO_PLACEMENT", 503, "Not enough stores available") {}
export class BackendUnavailable extends kind("BACKEND_UNAVAILABLE", 503, "Backend unavailable") {}
export class DatabaseMissing extends kind(
  "DATABASE_MISSING",
  503,
  "A CouchDB database is missing (run `oose migrate up`)",
) {}
export class InventoryViewsMissing extends kind("INVENTORY_VIEWS_MISSING", 503, "Inventory views missing") {}
export class InventoryRejected extends kind("INVENTORY_REJECTED", 503, "The inventory refused the record") {}
export class PeerUnavailable extends kind("PEER_UNAVAILABLE", 503, "File not available") {}
export class TakedownBusy extends kind("TAKEDOWN_BUSY", 503, "A job holds the file's lock; delete it again shortly") {}
export class TakedownIncomplete extends kind(
  "TAKEDOWN_INCOMPLETE",
  503,
  "Some copies could not be removed yet; delete it again once their stores are back",
) {}
export class Internal extends kind("INTERNAL", 500, "Internal error") {}

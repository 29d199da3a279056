import { type Static, Type as T } from "@sinclair/typebox";
import { Bytes, errors, FileName, Hash, hashByType, Nullable } from "./common.js";

// The prism API (spec §3.1): every route's request and reply, used by the
// prism's routes and, through Static<>, by PrismClient. Session routes take
// X-OOSE-Token or the prism's basic auth, private ones basic auth only: both
// can answer 401.

// Requests.
const Hashes = T.Union([Hash, T.Array(Hash)]);
/** `hash` or its synonym `sha1`: one, or an array for a bulk answer. */
export const HashesBody = T.Object({ hash: T.Optional(Hashes), sha1: T.Optional(Hashes) });
export const DownloadBody = T.Object({ hash: T.Optional(T.String()), sha1: T.Optional(T.String()) });
export const StaticParams = T.Object({ hash: Hash, filename: T.String({ maxLength: 255 }) });
export const PutParams = T.Object({ file: FileName });
export const RetrieveBody = T.Object({
  request: T.Object({ url: T.String({ maxLength: 4096 }) }, { additionalProperties: true }),
  hashType: T.Optional(T.String()),
  extension: T.Optional(T.String({ maxLength: 16 })),
});
export const CacheCommand = T.Object({
  command: T.Union([T.Literal("all"), T.Literal("existence"), T.Literal("stats")]),
});
export const LoginBody = T.Object({
  username: T.Optional(T.String({ maxLength: 256 })),
  password: T.Optional(T.String({ maxLength: 1024 })),
});
const Life = T.Integer({ minimum: 1 });
const Referrers = T.Array(T.String({ maxLength: 253 }), { maxItems: 100 });
export const PurchaseBody = T.Object({
  hash: T.Optional(Hash),
  sha1: T.Optional(Hash),
  ext: T.String({ maxLength: 16 }),
  referrer: T.Optional(Referrers),
  life: T.Optional(Life),
});
export const TokenBody = T.Object({ token: T.String({ maxLength: 200 }) });
export const PurchaseUpdateBody = T.Object({
  token: T.String({ maxLength: 200 }),
  referrer: T.Optional(Referrers),
  life: T.Optional(Life),
});
export const ListBody = T.Object({
  limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  /** A previous page's `next`. */
  cursor: T.Optional(T.String({ maxLength: 300 })),
  /** Whose files (admins and the prism's basic auth only; users always list their own). */
  owner: T.Optional(T.String({ minLength: 1, maxLength: 256 })),
});
export const DeleteBody = T.Object({ hash: Hash });
export const DeliverParams = T.Object({ token: T.String({ maxLength: 200 }), filename: T.String({ maxLength: 255 }) });
/** Other keys pass (players add their own); these are read. */
export const DeliverQuery = T.Object(
  {
    attach: T.Optional(T.String({ maxLength: 255 })),
    start: T.Optional(T.Number({ minimum: 0 })),
    rate: T.Optional(T.Integer({ minimum: 1 })),
    html5: T.Optional(T.String({ maxLength: 255 })),
  },
  { additionalProperties: true },
);

// Replies.
/** One file of an upload, under its form field's name. */
export const UploadedFile = T.Object({
  key: T.String(),
  /** The part's file name; a part sent as application/octet-stream may have none. */
  name: T.Optional(T.String()),
  encoding: T.String(),
  mimetype: T.String(),
  ext: T.String(),
  hash: T.String(),
  ...hashByType,
  hashType: T.String(),
  size: T.Integer(),
  /** Every live copy after the upload, as `<prism>:<store>`. */
  copies: T.Array(T.String()),
  /** Copies this upload added (0 for content the cluster had). */
  added: T.Integer(),
});
export const UploadReply = T.Object({
  success: T.String(),
  /** The form's fields, echoed (a JSON field arrives parsed). */
  data: T.Object({ fields: T.Record(T.String(), T.Unknown()) }),
  files: T.Record(T.String(), UploadedFile),
});
export const RetrieveReply = T.Object({
  hash: T.String(),
  extension: T.String(),
  ...hashByType,
  hashType: T.String(),
  size: T.Integer(),
  copies: T.Array(T.String()),
});

/** Spec §5.4: where a hash lives; a dead record (nulls, exists false) for unknown content. */
export const ExistenceRecord = T.Object({
  hash: T.String(),
  mimeType: Nullable(T.String()),
  mimeExtension: Nullable(T.String()),
  relativePath: Nullable(T.String()),
  size: Nullable(T.Integer()),
  /** Copies on live stores. */
  count: T.Integer(),
  exists: T.Boolean(),
  /** The live copies, as `<prism>:<store>`. */
  map: T.Array(T.String()),
});
/** Detail and exists: a record for one hash, `{<hash>: record}` for an array. */
export const ExistenceReply = T.Union([ExistenceRecord, T.Record(T.String(), ExistenceRecord)]);

/** One file a user uploaded: what the upload recorded, and its live copies now. */
export const ListedFile = T.Object({
  hash: T.String(),
  ext: T.String(),
  size: T.Integer(),
  mimeType: T.String(),
  /** The owner's first upload of it (ms). */
  uploadedAt: T.Integer(),
  /** Copies on live stores. */
  copies: T.Integer(),
});
/** Newest first; `next` is the cursor of the following page, absent on the last. */
export const ListReply = T.Object({ files: T.Array(ListedFile), next: T.Optional(T.String()) });
export const DeleteReply = T.Object({
  hash: T.String(),
  /** The bytes are gone (a takedown ran); false when only the caller's ownership went. */
  deleted: T.Boolean(),
  /** Stores whose copy this delete removed. */
  removed: T.Array(T.String()),
  /** Owners left. */
  owners: T.Integer(),
});

/** OOSE 2.2-final's purchase record: every value a string, referrers comma-joined. */
export const PurchaseRecord = T.Object({
  token: T.String(),
  hash: T.String(),
  ext: T.String(),
  referrer: T.String(),
  life: T.String(),
  expirationDate: T.String(),
  /** The user whose session made it; none for OOSE-era records and the prism's own account. */
  owner: T.Optional(T.String()),
});
export const PurchaseRemoved = T.Object({ token: T.String(), count: T.Integer(), success: T.String() });

export const PutReply = T.Object({ success: T.String(), file: T.String(), store: T.String() });

export const UserCtx = T.Object({ name: T.String(), roles: T.Array(T.String()) });
export const Session = T.Object({
  token: T.String(),
  ip: T.String(),
  data: T.Object({ userCtx: UserCtx, createdAt: T.String() }),
});
export const LoginReply = T.Object({ success: T.String(), session: Session });
export const LogoutReply = T.Object({ success: T.String(), data: T.Object({ userCtx: UserCtx }) });
/** `session` is missing when the prism's basic auth was used. */
export const ValidateReply = T.Object({ success: T.String(), session: T.Optional(Session) });

export const CacheFlushReply = T.Object({ success: T.String(), count: T.Integer() });
/** What the prism holds in memory and its counters: open-ended by nature. */
export const CacheDetailReply = T.Object({
  success: T.String(),
  count: T.Integer(),
  data: T.Object({
    existence: T.Optional(T.Object({ hashes: T.Array(T.String()) }, { additionalProperties: true })),
    stats: T.Optional(T.Record(T.String(), T.Unknown())),
  }),
});

/**
 * Each route's schema. 400: a body the route refuses (bad hash, name, referrer, life…); 403: a denied
 * referrer, static type or address; 404: no such content or purchase; 410: an expired purchase;
 * 503: CouchDB, Redis or every holder unavailable, or a takedown not finished yet (retry). Redirects (302) have no body, so only their failures are here.
 */
export const prismRoutes = {
  upload: { response: { 200: UploadReply, ...errors(400, 401, 413, 415, 503) } },
  retrieve: { body: RetrieveBody, response: { 200: RetrieveReply, ...errors(400, 401, 403, 413, 502, 503, 504) } },
  detail: { body: HashesBody, response: { 200: ExistenceReply, ...errors(400, 401, 503) } },
  exists: { body: HashesBody, response: { 200: ExistenceReply, ...errors(400, 401, 503) } },
  download: { body: DownloadBody, response: { 200: Bytes, ...errors(400, 401, 404, 503) } },
  static: { params: StaticParams, response: errors(400, 403, 404, 503) },
  put: { params: PutParams, response: { 201: PutReply, ...errors(400, 401, 413, 422, 503) } },
  cacheFlush: { body: CacheCommand, response: { 200: CacheFlushReply, ...errors(400, 401) } },
  cacheDetail: { body: CacheCommand, response: { 200: CacheDetailReply, ...errors(400, 401) } },
  login: { body: LoginBody, response: { 200: LoginReply, ...errors(400, 401, 429, 503) } },
  logout: { response: { 200: LogoutReply, ...errors(401, 503) } },
  validate: { response: { 200: ValidateReply, ...errors(401, 503) } },
  renew: { response: { 200: LoginReply, ...errors(401, 503) } },
  purchase: { body: PurchaseBody, response: { 200: PurchaseRecord, ...errors(400, 401, 404, 503) } },
  purchaseFind: { body: TokenBody, response: { 200: PurchaseRecord, ...errors(400, 401, 404, 503) } },
  purchaseUpdate: { body: PurchaseUpdateBody, response: { 200: PurchaseRecord, ...errors(400, 401, 404, 503) } },
  purchaseRemove: { body: TokenBody, response: { 200: PurchaseRemoved, ...errors(400, 401, 404, 503) } },
  list: { body: ListBody, response: { 200: ListReply, ...errors(400, 401, 503) } },
  delete: { body: DeleteBody, response: { 200: DeleteReply, ...errors(400, 401, 404, 503) } },
  deliver: { params: DeliverParams, querystring: DeliverQuery, response: errors(400, 403, 404, 410, 503) },
};

export type UploadedFile = Static<typeof UploadedFile>;
export type UploadReply = Static<typeof UploadReply>;
export type RetrieveReply = Static<typeof RetrieveReply>;
export type ExistenceRecord = Static<typeof ExistenceRecord>;
export type PurchaseRecord = Static<typeof PurchaseRecord>;
export type PurchaseRemoved = Static<typeof PurchaseRemoved>;
export type PutReply = Static<typeof PutReply>;
export type ListReply = Static<typeof ListReply>;
export type DeleteReply = Static<typeof DeleteReply>;
export type Session = Static<typeof Session>;
export type LoginReply = Static<typeof LoginReply>;
export type LogoutReply = Static<typeof LogoutReply>;
export type ValidateReply = Static<typeof ValidateReply>;
export type CacheFlushReply = Static<typeof CacheFlushReply>;
export type CacheDetailReply = Static<typeof CacheDetailReply>;

import { type Static, Type as T } from "@sinclair/typebox";
import { HASH_TYPE_NAMES } from "../core/hash.js";
import { PeerDocSchema } from "../core/peer.js";
import { Bytes, errors, FileName, Hash, Nullable } from "./common.js";

// The store API (spec §3.2): every route's request and reply, used by the
// store's routes and, through Static<>, by StoreClient. Every route but the
// public ones is behind the store's basic auth (401).

const StageId = T.String({ pattern: "^[0-9a-f-]{36}$" });

export const HashBody = T.Object({ hash: Hash });
export const ExistsBody = T.Object({ hash: T.Union([Hash, T.Array(Hash, { minItems: 1 })]) });
export const FileBody = T.Object({ file: FileName, force: T.Optional(T.Boolean()) });
export const SendBody = T.Object({
  file: FileName,
  /** `<prism>:<store>` */
  store: T.String({ maxLength: 200 }),
});
export const PutParams = T.Object({ "*": T.String() });
export const StageParams = T.Object({ id: StageId });
export const StageQuery = T.Object({ hashType: T.Optional(T.Union(HASH_TYPE_NAMES.map((h) => T.Literal(h)))) });
export const CommitBody = T.Object({ id: StageId, file: FileName });
export const AbortBody = T.Object({ id: StageId });

export const PutReply = T.Object({
  hash: T.String(),
  ext: T.String(),
  size: T.Integer(),
  relativePath: T.String(),
});
export const StageReply = T.Object({ id: T.String(), hash: T.String(), size: T.Integer() });
/** The trailer that ends a one-request upload: `<hash>.<ext>` to keep the copy, `abort` to drop it. */
export const COMMIT_TRAILER = "x-oose-commit";
/** A one-request upload's answer: the stage, and whether it was kept (with its path) or dropped. */
export const UploadReply = T.Object({
  id: T.String(),
  hash: T.String(),
  size: T.Integer(),
  committed: T.Boolean(),
  ext: T.Optional(T.String()),
  relativePath: T.Optional(T.String()),
});
export const AbortReply = T.Object({ success: T.String(), dropped: T.Boolean() });

export const ExistsEntry = T.Object({ exists: T.Boolean(), ext: T.String() });
/** Single: `{exists: {exists, ext}}`; bulk: `{<hash>: {exists, ext}}`. Both are this record. */
export const ExistsReply = T.Record(T.String(), ExistsEntry);

export const FileDetail = T.Object({
  hash: T.String(),
  ext: T.String(),
  mimeExtension: T.String(),
  mimeType: T.String(),
  relativePath: T.String(),
  prism: T.String(),
  store: T.String(),
  size: T.Integer(),
  /** When this copy was last hashed and found good (ms); null when the inventory has no record. */
  verifiedAt: Nullable(T.Integer()),
  hashDetail: T.Object({ size: T.Integer(), mtime: T.String(), ctime: T.String() }),
});

export const VerifyReply = T.Object({
  success: T.String(),
  code: T.Integer(),
  status: T.Union([T.Literal("ok"), T.Literal("fail")]),
  hash: T.String(),
  expectedHash: T.String(),
  actualHash: Nullable(T.String()),
  verifySkipped: T.Boolean(),
  verified: T.Boolean(),
  verifiedAt: Nullable(T.Integer()),
});

export const RemoveReply = T.Object({ success: T.String(), fileDetail: FileDetail, verifyDetail: VerifyReply });

export const SendReply = T.Object({
  success: T.String(),
  file: T.String(),
  store: PeerDocSchema,
  details: T.Object({ bytes: T.Integer(), durationMs: T.Integer(), bytesPerSecond: T.Integer() }),
  fileDetail: FileDetail,
  verifyDetail: VerifyReply,
});

/**
 * Each route's schema. 400: a body or name the route refuses; 404: no such content (or stage);
 * 413: over the upload limit; 422: the bytes do not match their hash, or the copy failed its verify;
 * 503: CouchDB (the inventory) or the target store unavailable.
 */
export const storeRoutes = {
  put: { params: PutParams, response: { 201: PutReply, ...errors(400, 401, 409, 413, 422, 503) } },
  /** 201 without a trailer (staged) or with a commit order (kept), 200 when the trailer said abort. */
  stage: {
    params: StageParams,
    querystring: StageQuery,
    response: {
      200: UploadReply,
      201: T.Union([UploadReply, StageReply]),
      ...errors(400, 401, 404, 409, 413, 422, 503),
    },
  },
  commit: { body: CommitBody, response: { 201: PutReply, ...errors(400, 401, 404, 409, 422, 503) } },
  abort: { body: AbortBody, response: { 200: AbortReply, ...errors(400, 401) } },
  /** The bytes: 200, or 206 for a range. */
  download: { body: HashBody, response: { 200: Bytes, 206: Bytes, ...errors(400, 401, 404, 416) } },
  exists: { body: ExistsBody, response: { 200: ExistsReply, ...errors(400, 401) } },
  detail: { body: HashBody, response: { 200: FileDetail, ...errors(400, 401, 404, 503) } },
  verify: { body: FileBody, response: { 200: VerifyReply, ...errors(400, 401, 404, 409, 503) } },
  remove: { body: HashBody, response: { 200: RemoveReply, ...errors(400, 401, 404, 409, 422, 503) } },
  send: { body: SendBody, response: { 200: SendReply, ...errors(400, 401, 404, 409, 422, 502, 503) } },
};

export type PutReply = Static<typeof PutReply>;
export type StageReply = Static<typeof StageReply>;
export type UploadReply = Static<typeof UploadReply>;
export type AbortReply = Static<typeof AbortReply>;
export type ExistsEntry = Static<typeof ExistsEntry>;
export type ExistsReply = Static<typeof ExistsReply>;
export type FileDetail = Static<typeof FileDetail>;
export type VerifyReply = Static<typeof VerifyReply>;
export type RemoveReply = Static<typeof RemoveReply>;
export type SendReply = Static<typeof SendReply>;

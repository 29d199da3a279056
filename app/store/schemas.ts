import { type Static, type TSchema, Type as T } from "@sinclair/typebox";
import { HASH_TYPE_NAMES } from "../core/hash.js";
import { PeerDocSchema } from "../core/peer.js";

// The store API's shapes: one source for route validation, response
// serialisation and the client's types. Hashes and file names are plain
// strings here; the layout guard checks them and answers INVALID_HASH /
// INVALID_FILE_NAME rather than a generic schema error.

const Hash = T.String({ maxLength: 200 });
const FileName = T.String({ maxLength: 200 });
const StageId = T.String({ pattern: "^[0-9a-f-]{36}$" });
const Nullable = <S extends TSchema>(s: S) => T.Union([s, T.Null()]);

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

export type PutReply = Static<typeof PutReply>;
export type StageReply = Static<typeof StageReply>;
export type UploadReply = Static<typeof UploadReply>;
export type AbortReply = Static<typeof AbortReply>;
export type ExistsEntry = Static<typeof ExistsEntry>;
export type FileDetail = Static<typeof FileDetail>;
export type VerifyReply = Static<typeof VerifyReply>;
export type RemoveReply = Static<typeof RemoveReply>;
export type SendReply = Static<typeof SendReply>;

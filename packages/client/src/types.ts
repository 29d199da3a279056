import type { Static } from "@sinclair/typebox";
import type { ListBody, PurchaseBody, PurchaseUpdateBody, RetrieveBody } from "../../../app/contracts/prism.js";

// The wire types, all from the prism's contract (app/contracts): the schemas
// the prism validates and serialises with are the single source.

export type {
  DeleteReply,
  ExistenceRecord,
  ListReply,
  LoginReply,
  LogoutReply,
  PurchaseRecord,
  PurchaseRemoved,
  RetrieveReply,
  Session,
  UploadedFile,
  UploadReply,
  ValidateReply,
} from "../../../app/contracts/prism.js";
export type { ErrorBody } from "../../../app/contracts/common.js";

/** A page of the caller's files: `limit`, the previous page's `next` as `cursor`, and (admins) `owner`. */
export type ListOptions = Static<typeof ListBody>;
export type PurchaseRequest = Static<typeof PurchaseBody>;
export type PurchaseChange = Omit<Static<typeof PurchaseUpdateBody>, "token">;
/** `hashType` and `extension` of an import; the URL is retrieve()'s first argument. */
export type RetrieveOptions = Omit<Static<typeof RetrieveBody>, "request">;

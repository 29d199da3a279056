import { BadRequest } from "../errors.js";

// Who uploaded what: one record per (owner, hash), beside the inventory.
// Content is deduplicated, so a hash may have several owners; content with no
// owner record (OOSE-era, or uploaded with the prism's basic auth) belongs to
// admins only. A hash's `origin` mark says an owned upload brought the bytes
// into the cluster: only then may the last owner's delete remove them. A
// takedown mark stops the jobs that make copies from bringing a hash back,
// until an owner uploads it again.

export interface OwnedFile {
  owner: string;
  hash: string;
  ext: string;
  size: number;
  mimeType: string;
  /** ms since the epoch; the first upload's time is kept. */
  uploadedAt: number;
}

/** What is recorded of one hash. */
export interface HashOwners {
  owners: OwnedFile[];
  /** An owned upload brought the content into the cluster. */
  origin: boolean;
  /** When the hash was taken down (ms), if it was. */
  takedownAt?: number;
}

export interface OwnedPage {
  files: OwnedFile[];
  /** Where the next page starts; absent on the last page. */
  next?: string;
}

/** A page's position: the last file's (uploadedAt, hash), newest first. */
export interface ListPosition {
  uploadedAt: number;
  hash: string;
}

export const encodeCursor = (p: ListPosition) =>
  Buffer.from(JSON.stringify([p.uploadedAt, p.hash])).toString("base64url");

export function decodeCursor(cursor: string): ListPosition {
  try {
    const [uploadedAt, hash] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (Number.isSafeInteger(uploadedAt) && typeof hash === "string" && /^[a-f0-9]{32,128}$/.test(hash)) {
      return { uploadedAt: uploadedAt as number, hash };
    }
  } catch {
    // Refused below, as any other malformed cursor.
  }
  throw new BadRequest("Invalid cursor");
}

/** Newest first; among equal times, by hash descending (the order of the owners view read descending). */
export const newestFirst = (a: ListPosition, b: ListPosition) =>
  b.uploadedAt - a.uploadedAt || (a.hash < b.hash ? 1 : a.hash > b.hash ? -1 : 0);

/** A taken-down hash stays down for the copy jobs until an owner uploads it after the takedown. */
export const copiesBlocked = (h: HashOwners) =>
  h.takedownAt !== undefined && !h.owners.some((o) => o.uploadedAt > h.takedownAt!);

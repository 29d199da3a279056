import type { Readable } from "node:stream";
import type { HashType } from "../hash.js";
import type { ContentId } from "../layout.js";

// The content of one disk, by hash. An upload is received into a temp file
// while hashed, then committed under its layout path or discarded: nothing
// partial is ever visible under a hash.

export interface Blob {
  hash: string;
  ext: string;
  file: string;
  relativePath: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** An upload sitting in tmp, hashed, waiting for commit or discard. */
export interface Received {
  tmp: string;
  size: number;
  digest: string;
}

/** A file's identity and digest at the moment it was hashed. */
export interface Digest {
  digest: string;
  size: number;
  ino: number;
  dev: number;
}

export interface Blobs {
  /** Creates what is missing and drops temp files a crash left behind. */
  init(): Promise<void>;
  /** Streams `source` into a temp file while hashing it; on any failure no temp file is left. */
  receive(type: HashType, source: Readable, maxBytes: number, idleMs?: number): Promise<Received>;
  /** Drops a temp file, if it is still there. */
  discard(tmp: string): Promise<void>;
  /** Publishes a received file under `id`, durably; a copy under another extension is dropped. */
  commit(received: Received, id: ContentId): Promise<Blob>;
  /** The blob holding `hash` (throws INVALID_HASH for a hash no path can hold). */
  find(hash: string): Promise<Blob | undefined>;
  /** Opens a blob for reading; undefined if it vanished since it was found. */
  open(blob: Blob, range?: { start: number; end: number }): Promise<{ stream: Readable; size: number } | undefined>;
  /** Re-hashes a blob, recording which file was read; undefined if it vanished. */
  digest(blob: Blob): Promise<Digest | undefined>;
  /** True while the blob's path still holds the file that was hashed. */
  holds(blob: Blob, hashed: Pick<Digest, "ino" | "dev">): Promise<boolean>;
  /** Removes a blob durably; true if something was removed. */
  remove(blob: Blob): Promise<boolean>;
}

/** A store's own check of one copy (its verify), as jobs see it. */
export interface CopyCheck {
  status: "ok" | "fail";
  actualHash: string | null;
  verifySkipped: boolean;
  verifiedAt: number | null;
}

/** What the scrub and verify jobs use of a store's content. */
export interface LocalCopies {
  readonly blobs: Pick<Blobs, "find" | "digest">;
  /** Re-hashes the copy (or trusts a recent verification unless forced); a corrupt copy goes with its record. */
  verify(
    hash: string,
    force: boolean,
    known?: { verifiedAt?: number | null; mimeExtension: string },
  ): Promise<CopyCheck>;
}

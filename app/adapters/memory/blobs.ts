import { randomUUID } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HashingStream, type HashType, identify } from "../../core/hash.js";
import { type ContentId, locate } from "../../core/layout.js";
import type { Blob, Blobs, Digest, Received } from "../../core/ports/blobs.js";
import { UploadGuard } from "../../core/upload-guard.js";
import { AppError, Internal } from "../../errors.js";

// Blobs in one process's memory, with the disk store's rules: uploads are
// hashed into a temp entry, one file per hash (a commit under another
// extension replaces it), and every commit is a new file (its own inode), so
// holds() tells a replaced copy from the one that was hashed.

const ROOT = "/memory/content";

interface File {
  ext: string;
  bytes: Buffer;
  ino: number;
  mtimeMs: number;
}

export class MemoryBlobs implements Blobs {
  private readonly files = new Map<string, File>();
  private readonly temps = new Map<string, Buffer>();
  private inodes = 0;

  async init(): Promise<void> {
    this.temps.clear();
  }

  async receive(type: HashType, source: Readable, maxBytes: number, idleMs = 0): Promise<Received> {
    const tmp = `${randomUUID()}.part`;
    const hasher = new HashingStream(type);
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    try {
      await pipeline(source, new UploadGuard(maxBytes, idleMs), hasher, sink);
    } catch (err) {
      throw err instanceof AppError ? err : new Internal("Could not store the upload", undefined, err);
    }
    this.temps.set(tmp, Buffer.concat(chunks));
    return { tmp, size: hasher.bytes, digest: hasher.digest() };
  }

  async discard(tmp: string): Promise<void> {
    this.temps.delete(tmp);
  }

  private blob(hash: string, f: File): Blob {
    const loc = locate(ROOT, hash, f.ext);
    return {
      hash,
      ext: f.ext,
      file: loc.file!,
      relativePath: loc.relativePath!,
      size: f.bytes.length,
      mtimeMs: f.mtimeMs,
      ctimeMs: f.mtimeMs,
    };
  }

  async commit(received: Received, id: ContentId): Promise<Blob> {
    const bytes = this.temps.get(received.tmp);
    if (!bytes) throw new Internal("Received file vanished");
    this.temps.delete(received.tmp);
    const file = { ext: id.ext, bytes, ino: ++this.inodes, mtimeMs: Date.now() };
    this.files.set(id.hash, file);
    return this.blob(id.hash, file);
  }

  async find(hash: string): Promise<Blob | undefined> {
    locate(ROOT, hash);
    const f = this.files.get(hash);
    return f ? this.blob(hash, f) : undefined;
  }

  private current(blob: Blob): File | undefined {
    const f = this.files.get(blob.hash);
    return f && f.ext === blob.ext ? f : undefined;
  }

  async open(blob: Blob, range?: { start: number; end: number }) {
    const f = this.current(blob);
    if (!f) return undefined;
    const bytes = range ? f.bytes.subarray(range.start, range.end + 1) : f.bytes;
    return { stream: Readable.from([bytes]), size: f.bytes.length };
  }

  async digest(blob: Blob): Promise<Digest | undefined> {
    const f = this.current(blob);
    if (!f) return undefined;
    const hasher = new HashingStream(identify(blob.hash) as HashType);
    await pipeline(Readable.from([f.bytes]), hasher, new Writable({ write: (_c, _e, done) => done() }));
    return { digest: hasher.digest(), size: hasher.bytes, ino: f.ino, dev: 0 };
  }

  async holds(blob: Blob, hashed: Pick<Digest, "ino" | "dev">): Promise<boolean> {
    return this.current(blob)?.ino === hashed.ino && hashed.dev === 0;
  }

  async remove(blob: Blob): Promise<boolean> {
    if (!this.current(blob)) return false;
    this.files.delete(blob.hash);
    return true;
  }

  /** Overwrites a stored file's bytes in place (same inode), as disk corruption would. */
  corrupt(hash: string, bytes: Buffer): void {
    const f = this.files.get(hash);
    if (f) f.bytes = bytes;
  }
}

import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HashingStream, type HashType, identify } from "../../core/hash.js";
import { type ContentId, locate, normalizeExt } from "../../core/layout.js";
import type { Blob, Blobs, Digest, Received } from "../../core/ports/blobs.js";
import { UploadGuard } from "../../core/upload-guard.js";
import { AppError, ClientAborted, Internal } from "../../errors.js";

// The blob store of one disk. Uploads land in <dataRoot>/tmp (same filesystem,
// outside the content root nginx serves), are hashed on the way, fsynced, and
// only then renamed under their layout path. Nothing partial is ever visible.

const ABORTED = new Set(["ECONNRESET", "ERR_STREAM_PREMATURE_CLOSE", "ECONNABORTED", "EPIPE"]);

const discardAll = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException)?.code === "ENOENT";

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Directory fsyncs shared between concurrent writers: a caller joins the next
 * fsync of its directory that starts after its call (one already running may
 * predate the caller's change), so N renames into one folder cost ~2 fsyncs, not N.
 */
class DirSyncs {
  private readonly running = new Map<string, Promise<void>>();
  private readonly next = new Map<string, Promise<void>>();

  sync(dir: string): Promise<void> {
    const queued = this.next.get(dir);
    if (queued) return queued;
    const current = this.running.get(dir);
    const start = (): Promise<void> => {
      this.next.delete(dir);
      const p = fsyncDir(dir).finally(() => {
        if (this.running.get(dir) === p) this.running.delete(dir);
      });
      this.running.set(dir, p);
      return p;
    };
    if (!current) return start();
    const after = current.catch(() => undefined).then(start);
    this.next.set(dir, after);
    return after;
  }
}

function extOf(name: string, base: string): string | undefined {
  if (!name.startsWith(`${base}.`)) return undefined;
  const ext = name.slice(base.length + 1);
  try {
    return normalizeExt(ext) === ext ? ext : undefined;
  } catch {
    return undefined;
  }
}

export class BlobStore implements Blobs {
  readonly contentRoot: string;
  readonly tmpDir: string;
  private readonly dirs = new DirSyncs();

  constructor(dataRoot: string) {
    this.contentRoot = path.resolve(dataRoot, "content");
    this.tmpDir = path.resolve(dataRoot, "tmp");
  }

  /** Creates the folders and drops temp files a crash left behind (one process owns a data root). */
  async init(): Promise<void> {
    await mkdir(this.contentRoot, { recursive: true });
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  /**
   * Streams `source` into a temp file while hashing it. The caller compares the
   * digest and then commits or discards. On any failure no temp file is left.
   */
  async receive(type: HashType, source: Readable, maxBytes: number, idleMs = 0): Promise<Received> {
    const tmp = path.join(this.tmpDir, `${randomUUID()}.part`);
    const hasher = new HashingStream(type);
    try {
      await pipeline(
        source,
        new UploadGuard(maxBytes, idleMs),
        hasher,
        createWriteStream(tmp, { flags: "wx", mode: 0o644, flush: true }),
      );
      return { tmp, size: hasher.bytes, digest: hasher.digest() };
    } catch (err) {
      await this.discard(tmp);
      if (err instanceof AppError) throw err;
      if (ABORTED.has((err as NodeJS.ErrnoException).code ?? "")) throw new ClientAborted(undefined, undefined, err);
      throw new Internal("Could not store the upload", undefined, err);
    }
  }

  /** Drops a temp file, if it is still there (a commit renamed it away). */
  async discard(tmp: string): Promise<void> {
    await unlink(tmp).catch((err) => {
      if (!isMissing(err)) throw err;
    });
  }

  /**
   * Atomically moves a received file to its layout path and makes the rename durable.
   * One file per hash: a copy under another extension is dropped, the newest upload wins.
   */
  async commit(received: Received, id: ContentId): Promise<Blob> {
    const loc = locate(this.contentRoot, id.hash, id.ext);
    const firstCreated = await mkdir(loc.dir, { recursive: true });
    await rename(received.tmp, loc.file!);
    for (const name of await readdir(loc.dir)) {
      const ext = extOf(name, loc.base);
      if (ext && ext !== id.ext) await rm(path.join(loc.dir, name), { force: true });
    }
    // The file's own entry, then every directory this commit created. Issued together, so the
    // filesystem folds them into one journal commit instead of one round per level.
    const stop = firstCreated ? path.dirname(firstCreated) : loc.dir;
    const dirs: string[] = [];
    for (let dir = loc.dir; ; dir = path.dirname(dir)) {
      dirs.push(dir);
      if (dir === stop || dir === this.contentRoot) break;
    }
    await Promise.all(dirs.map((d) => this.dirs.sync(d)));
    const st = await stat(loc.file!).catch((err) => {
      throw isMissing(err) ? new Internal("Committed file vanished") : err;
    });
    const { size, mtimeMs, ctimeMs } = st;
    return { hash: id.hash, ext: id.ext, file: loc.file!, relativePath: loc.relativePath!, size, mtimeMs, ctimeMs };
  }

  /** The file holding `hash`, found by listing its folder for `<base>.*` (the ext is only in the name). */
  async find(hash: string): Promise<Blob | undefined> {
    const { dir, base } = locate(this.contentRoot, hash);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
      throw err;
    }
    const ext = names
      .map((n) => extOf(n, base))
      .filter((e): e is string => e !== undefined)
      .sort()[0];
    if (!ext) return undefined;
    const loc = locate(this.contentRoot, hash, ext);
    try {
      const st = await stat(loc.file!);
      if (!st.isFile()) return undefined;
      return {
        hash,
        ext,
        file: loc.file!,
        relativePath: loc.relativePath!,
        size: st.size,
        mtimeMs: st.mtimeMs,
        ctimeMs: st.ctimeMs,
      };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Opens a blob for reading; undefined if it vanished since it was found. */
  async open(
    blob: Blob,
    range?: { start: number; end: number },
  ): Promise<{ stream: Readable; size: number } | undefined> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(blob.file, "r");
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    const { size } = await fh.stat();
    return { stream: fh.createReadStream(range ?? {}), size };
  }

  /** Re-hashes a file, recording which inode was read so a later delete cannot hit a replacement. */
  async digest(blob: Blob): Promise<Digest | undefined> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(blob.file, "r");
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    const st = await fh.stat();
    const hasher = new HashingStream(identify(blob.hash) as HashType);
    await pipeline(fh.createReadStream(), hasher, discardAll());
    return { digest: hasher.digest(), size: hasher.bytes, ino: st.ino, dev: st.dev };
  }

  /** True while the blob's path still holds the inode that was hashed (no upload replaced it). */
  async holds(blob: Blob, hashed: Pick<Digest, "ino" | "dev">): Promise<boolean> {
    try {
      const st = await stat(blob.file);
      return st.ino === hashed.ino && st.dev === hashed.dev;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Unlinks a blob durably. True if something was removed. */
  async remove(blob: Blob): Promise<boolean> {
    try {
      await unlink(blob.file);
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    await this.dirs.sync(path.dirname(blob.file));
    return true;
  }
}

import type { Readable } from "node:stream";
import type { Config } from "../config.js";
import { copyDoc, type InventoryDoc, mimeOf } from "../core/inventory.js";
import type { ContentId } from "../core/layout.js";
import type { Blob, Blobs, LocalCopies, Received } from "../core/ports/blobs.js";
import type { Inventory } from "../core/ports/inventory.js";
import { ContentNotFound, HashMismatch, VerifyFailed } from "../errors.js";
import type { Logger } from "../log.js";
import { bytesWritten, commitDuration, stageDuration } from "../metrics/index.js";
import { KeyedLock } from "./lock.js";
import type { ExistsEntry, FileDetail, PutReply, RemoveReply, VerifyReply } from "../contracts/store.js";

// The store's content: disk and inventory kept in step. The order is always
// disk first on the way in and inventory first on the way out, so the inventory
// never sends a reader to a file that is not there. Every change to what a hash
// points to runs under that hash's lock.

export interface ContentDeps {
  config: Config;
  inventory: Pick<Inventory, "getCopy" | "record" | "remove">;
  blobs: Blobs;
  /** Tells every prism that a hash's copies changed, so cached existence is dropped at once. */
  announce: (hash: string) => Promise<unknown>;
  log: Logger;
}

export class StoreContent implements LocalCopies {
  readonly blobs: Blobs;
  private readonly inventory: ContentDeps["inventory"];
  private readonly lock = new KeyedLock();

  constructor(private readonly deps: ContentDeps) {
    this.blobs = deps.blobs;
    this.inventory = deps.inventory;
  }

  /** Streams an upload to tmp while hashing, then commits it if the hash matches its name. */
  async put(id: ContentId, body: Readable): Promise<PutReply> {
    const { uploadMaxBytes, requestTimeoutMs } = this.deps.config.limits;
    const staged = stageDuration.startTimer();
    const received = await this.blobs.receive(id.type, body, uploadMaxBytes, requestTimeoutMs);
    staged();
    return this.commit(received, id);
  }

  /**
   * Publishes a received upload under `id` if its digest matches; the temp file is gone afterwards either way.
   * If CouchDB fails after the rename, the verified file stays unrecorded (a retry or the inventory scan
   * records it) and the caller gets the 503.
   */
  async commit(received: Received, id: ContentId): Promise<PutReply> {
    const timed = commitDuration.startTimer();
    try {
      if (received.digest !== id.hash) {
        throw new HashMismatch("Checksum mismatch", {
          expectedHash: id.hash,
          actualHash: received.digest,
          size: received.size,
        });
      }
      const blob = await this.lock.run(id.hash, async () => {
        const blob = await this.blobs.commit(received, id);
        await this.inventory.record(this.record(blob, Date.now()));
        return blob;
      });
      timed();
      bytesWritten.inc(blob.size);
      this.announce(id.hash);
      return { hash: blob.hash, ext: blob.ext, size: blob.size, relativePath: blob.relativePath };
    } finally {
      await this.blobs.discard(received.tmp);
    }
  }

  async find(hash: string): Promise<Blob> {
    const blob = await this.blobs.find(hash);
    if (!blob) throw new ContentNotFound();
    return blob;
  }

  async exists(hashes: string[]): Promise<Map<string, ExistsEntry>> {
    const found = await Promise.all(hashes.map((h) => this.blobs.find(h)));
    return new Map(hashes.map((h, i) => [h, { exists: found[i] !== undefined, ext: found[i]?.ext ?? "" }]));
  }

  async detail(hash: string): Promise<FileDetail> {
    const blob = await this.find(hash);
    const { config } = this.deps;
    const doc = await this.inventory.getCopy(hash, config.prism, config.name);
    return this.describe(blob, doc?.verifiedAt ?? null);
  }

  /** Spec §9.4: trust a recent verification unless forced; a corrupt copy is deleted with its record. */
  async verify(
    hash: string,
    force: boolean,
    known?: Pick<InventoryDoc, "verifiedAt" | "mimeExtension">,
  ): Promise<VerifyReply> {
    const { config, log } = this.deps;
    const blob = await this.blobs.find(hash);
    if (!blob) return this.forget(hash);
    // A caller paging the inventory already holds the doc.
    const doc = known ?? (await this.inventory.getCopy(hash, config.prism, config.name));
    const result = { success: "Verification complete", code: 200, hash, expectedHash: hash };
    const last = doc?.mimeExtension === blob.ext ? doc.verifiedAt : undefined;
    if (!force && last && Date.now() - last < config.verifyExpiration) {
      return { ...result, status: "ok", actualHash: null, verifySkipped: true, verified: true, verifiedAt: last };
    }
    const sum = await this.blobs.digest(blob);
    if (!sum) return this.forget(hash);
    const now = Date.now();
    if (sum.digest !== hash) {
      // Only the copy that was hashed goes: a good upload that replaced it meanwhile stays, with its record.
      const removed = await this.lock.run(hash, async () => {
        if (!(await this.blobs.holds(blob, sum))) return false;
        await this.inventory.remove(hash, config.prism, config.name);
        return this.blobs.remove(blob);
      });
      log.warn({ hash, actual: sum.digest, removed }, "verify: corrupt copy");
      this.announce(hash);
      return {
        ...result,
        status: "fail",
        actualHash: sum.digest,
        verifySkipped: false,
        verified: false,
        verifiedAt: null,
      };
    }
    await this.lock.run(hash, async () => {
      if (await this.blobs.holds(blob, sum)) await this.inventory.record(this.record(blob, now));
    });
    return { ...result, status: "ok", actualHash: sum.digest, verifySkipped: false, verified: true, verifiedAt: now };
  }

  /** Spec §3.2 (2.4): verify first; only a good copy is removed (a corrupt one is gone already). */
  async remove(hash: string): Promise<RemoveReply> {
    const { config } = this.deps;
    const blob = await this.find(hash);
    const verifyDetail = await this.verify(hash, false);
    const fileDetail = this.describe(blob, verifyDetail.verifiedAt);
    if (verifyDetail.status !== "ok") throw new VerifyFailed("File verify failed", { fileDetail, verifyDetail });
    await this.lock.run(hash, async () => {
      await this.inventory.remove(hash, config.prism, config.name);
      const current = await this.blobs.find(hash);
      if (current) await this.blobs.remove(current);
    });
    this.announce(hash);
    return { success: "File removed", fileDetail, verifyDetail };
  }

  /** The file is gone: drop a record that still claims it, then answer 404. */
  private async forget(hash: string): Promise<never> {
    const { config } = this.deps;
    const dropped = await this.lock.run(hash, async () => {
      if (await this.blobs.find(hash)) return false;
      if (!(await this.inventory.getCopy(hash, config.prism, config.name))) return false;
      await this.inventory.remove(hash, config.prism, config.name);
      return true;
    });
    if (dropped) this.announce(hash);
    throw new ContentNotFound();
  }

  describe(blob: Blob, verifiedAt: number | null): FileDetail {
    const { config } = this.deps;
    return {
      hash: blob.hash,
      ext: blob.ext,
      mimeExtension: blob.ext,
      mimeType: mimeOf(blob.ext),
      relativePath: blob.relativePath,
      prism: config.prism,
      store: config.name,
      size: blob.size,
      verifiedAt,
      hashDetail: {
        size: blob.size,
        mtime: new Date(blob.mtimeMs).toISOString(),
        ctime: new Date(blob.ctimeMs).toISOString(),
      },
    };
  }

  private record(blob: Blob, verifiedAt: number): InventoryDoc {
    const { config } = this.deps;
    return { ...copyDoc(blob, config.prism, config.name, new Date().toISOString()), verifiedAt };
  }

  /** Best effort: prisms also expire their caches, so a lost message only delays them. */
  private announce(hash: string): void {
    const { log } = this.deps;
    this.deps
      .announce(hash)
      .catch((err) => log.warn({ hash, err: (err as Error).message }, "inventory change not announced"));
  }
}

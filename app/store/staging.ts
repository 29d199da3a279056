import type { Readable } from "node:stream";
import type { Blobs, Received } from "../core/ports/blobs.js";
import type { HashType } from "../core/hash.js";
import { BadRequest, NotFound } from "../errors.js";
import type { Logger } from "../log.js";
import { stageDuration } from "../metrics/index.js";

// Staged uploads: the prism streams bytes here before their hash is known (it
// hashes them on the way too). Each stage is a temp file on the content disk,
// kept until the prism commits it under the hash or aborts it. A restart drops
// every stage; one nobody claims, e.g. because its prism died, is swept after `ttlMs`.

export interface Staged extends Received {
  hash: string;
  hashType: HashType;
  at: number;
}

const ID = /^[0-9a-f-]{36}$/;

export class Staging {
  private readonly stages = new Map<string, Staged>();
  /** Uploads still streaming in; true once an abort arrived for one. */
  private readonly receiving = new Map<string, boolean>();
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly blobs: Blobs,
    private readonly limits: { ttlMs: number; maxBytes: number; idleMs: number },
    private readonly log: Logger,
  ) {}

  start(): void {
    this.sweeper = setInterval(() => void this.sweep(), Math.max(1000, Math.min(this.limits.ttlMs, 60_000)));
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.stages.keys()].map((id) => this.abort(id)));
  }

  static checkId(id: string): string {
    if (!ID.test(id)) throw new BadRequest("Invalid upload id");
    return id;
  }

  async receive(id: string, source: Readable, hashType: HashType): Promise<Staged> {
    Staging.checkId(id);
    if (this.stages.has(id) || this.receiving.has(id)) throw new BadRequest("Upload id already used");
    this.receiving.set(id, false);
    try {
      const timed = stageDuration.startTimer();
      const received = await this.blobs.receive(hashType, source, this.limits.maxBytes, this.limits.idleMs);
      timed();
      if (this.receiving.get(id)) {
        await this.blobs.discard(received.tmp);
        throw new NotFound("Staged upload was aborted");
      }
      const staged: Staged = { ...received, hash: received.digest, hashType, at: Date.now() };
      this.stages.set(id, staged);
      return staged;
    } finally {
      this.receiving.delete(id);
    }
  }

  /** Hands a stage over for commit; it is no longer this registry's to sweep. */
  take(id: string): Staged {
    const staged = this.stages.get(Staging.checkId(id));
    if (!staged) throw new NotFound("No such staged upload");
    this.stages.delete(id);
    return staged;
  }

  /** Idempotent. An abort for an upload still streaming in drops it when it lands. */
  async abort(id: string): Promise<boolean> {
    if (this.receiving.has(id)) {
      this.receiving.set(id, true);
      return true;
    }
    const staged = this.stages.get(id);
    if (!staged) return false;
    this.stages.delete(id);
    await this.blobs.discard(staged.tmp);
    return true;
  }

  async sweep(now = Date.now()): Promise<void> {
    for (const [id, s] of this.stages) {
      if (now - s.at < this.limits.ttlMs) continue;
      this.log.warn({ id, size: s.size }, "staged upload expired without commit or abort");
      await this.abort(id);
    }
  }
}

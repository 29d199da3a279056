import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HashingStream, type HashType } from "../core/hash.js";
import { BadRequest, NotFound, PayloadTooLarge } from "../errors.js";
import type { Received } from "../adapters/disk/index.js";

// Staged uploads: the prism streams bytes here before their hash is known (it
// hashes them on the way too). Each stage is a temp file on the content disk,
// kept until the prism commits it under the hash or aborts it; stages nobody
// claims are swept after `ttlMs`.

export interface Staged extends Received {
  hash: string;
  hashType: HashType;
  at: number;
}

const ID = /^[0-9a-f-]{36}$/;

export class Staging {
  private readonly stages = new Map<string, Staged>();
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly tmpDir: string,
    private readonly ttlMs = 3_600_000,
  ) {}

  start(): void {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(this.ttlMs, 60_000));
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

  async receive(id: string, source: Readable, hashType: HashType, maxBytes: number): Promise<Staged> {
    Staging.checkId(id);
    if (this.stages.has(id)) throw new BadRequest("Upload id already used");
    const tmp = path.join(this.tmpDir, `stage-${id}.part`);
    const hasher = new HashingStream(hashType);
    let seen = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            seen += chunk.length;
            if (seen > maxBytes) throw new PayloadTooLarge(`Upload exceeds ${maxBytes} bytes`);
            yield chunk;
          }
        },
        hasher,
        createWriteStream(tmp, { flags: "wx", mode: 0o644, flush: true }),
      );
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    const hash = hasher.digest();
    const staged: Staged = { tmp, size: hasher.bytes, digest: hash, hash, hashType, at: Date.now() };
    this.stages.set(id, staged);
    return staged;
  }

  /** Hands a stage over for commit; it is no longer this registry's to sweep. */
  take(id: string): Staged {
    const staged = this.stages.get(Staging.checkId(id));
    if (!staged) throw new NotFound("No such staged upload");
    this.stages.delete(id);
    return staged;
  }

  async abort(id: string): Promise<boolean> {
    const staged = this.stages.get(id);
    if (!staged) return false;
    this.stages.delete(id);
    await rm(staged.tmp, { force: true });
    return true;
  }

  private async sweep(): Promise<void> {
    const cutoff = Date.now() - this.ttlMs;
    for (const [id, s] of this.stages) if (s.at < cutoff) await this.abort(id);
  }
}

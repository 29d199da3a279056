import { Transform, type TransformCallback } from "node:stream";
import { ClientAborted, PayloadTooLarge } from "../errors.js";

/** Caps an upload's size, and fails it when no byte arrives for `idleMs` (a stalled client must not pin a temp file). */
export class UploadGuard extends Transform {
  private seen = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly max: number,
    private readonly idleMs: number,
  ) {
    super();
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (this.idleMs > 0) {
      this.timer = setTimeout(
        () => this.destroy(new ClientAborted(`No upload data for ${this.idleMs} ms`)),
        this.idleMs,
      );
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      done(new PayloadTooLarge(`Upload exceeds ${this.max} bytes`));
      return;
    }
    this.arm();
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    clearTimeout(this.timer);
    done();
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    done(err);
  }
}

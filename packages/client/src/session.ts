import { UnauthorizedError } from "./errors.js";

// When a session runs out, as the client can know it: the prism does not say,
// so its `session.life` is an option here (24 h by default, as on the prism).
// With autoRenew, a timer renews the session before then, and keeps trying
// until it expires; the timer never keeps the process alive.

export interface SessionOptions {
  /** The prism's session life (its `session.life`). Default 24 h. */
  lifeMs?: number;
  /** Renew this long before the session expires. Default a tenth of its life; at most half. */
  renewBeforeMs?: number;
  /** Renew in the background until logout or close(). Default off. */
  autoRenew?: boolean;
  /** Told of a background renewal that failed (it is tried again until the session expires). */
  onRenewError?: (err: unknown) => void;
}

export class SessionClock {
  /** When the session expires (ms since the epoch), counted from when its login or last renewal was sent. */
  expiresAt?: number;
  private timer?: NodeJS.Timeout;
  private readonly lifeMs: number;
  private readonly renewBeforeMs: number;

  constructor(
    private readonly opts: SessionOptions,
    private readonly renew: () => Promise<unknown>,
  ) {
    this.lifeMs = opts.lifeMs ?? 86_400_000;
    // At most half the life, so a renewal is never due the moment the last one ended.
    this.renewBeforeMs = Math.min(opts.renewBeforeMs ?? this.lifeMs / 10, this.lifeMs / 2);
  }

  /** A login or a renewal sent at `sentAt` succeeded. */
  started(sentAt: number): void {
    this.expiresAt = sentAt + this.lifeMs;
    this.arm(this.expiresAt - this.renewBeforeMs - Date.now());
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.expiresAt = undefined;
  }

  private arm(ms: number): void {
    if (!this.opts.autoRenew) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fire(), Math.max(0, ms));
    this.timer.unref();
  }

  private async fire(): Promise<void> {
    try {
      await this.renew();
    } catch (err) {
      this.opts.onRenewError?.(err);
      const left = (this.expiresAt ?? 0) - Date.now();
      // A 401 means the session is gone: renewing again cannot help.
      if (!(err instanceof UnauthorizedError) && left > 0) this.arm(left / 2);
    }
  }
}

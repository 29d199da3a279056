import type { HotCounts } from "../core/ports/hot.js";
import type { Logger } from "../log.js";

// Delivery counts for hot-content scaling. The deliver route only bumps
// in-memory counters; once per flushEvery they go to the shared counts in one
// write, into time buckets that each expire once the window has passed them.
// The sliding window is the union of the buckets it covers. No round trip per delivery.

export interface HotWindow {
  window: number;
  flushEvery: number;
}

/** Bucket length: a tenth of the window, at least a second. */
export const bucketMs = (window: number) => Math.max(1000, Math.ceil(window / 10));

/** The buckets a window ending at `now` covers, oldest first. */
export function windowBuckets(now: number, window: number): number[] {
  const size = bucketMs(window);
  const last = Math.floor(now / size);
  const count = Math.ceil(window / size);
  return Array.from({ length: count }, (_, i) => last - count + 1 + i);
}

/** Most distinct hashes held between flushes; beyond it new hashes wait for the next second. */
const MAX_PENDING = 100_000;

export class HotCounter {
  private hashes = new Map<string, number>();
  private stores = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly counts: HotCounts,
    private readonly s: HotWindow,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** One delivery of `hash` from `store`: memory only. */
  record(hash: string, store: string): void {
    const n = this.hashes.get(hash);
    if (n !== undefined) this.hashes.set(hash, n + 1);
    else if (this.hashes.size < MAX_PENDING) this.hashes.set(hash, 1);
    this.stores.set(store, (this.stores.get(store) ?? 0) + 1);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), Math.max(100, this.s.flushEvery));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  async flush(): Promise<void> {
    if (this.hashes.size === 0 && this.stores.size === 0) return;
    const [hashes, stores] = [this.hashes, this.stores];
    this.hashes = new Map();
    this.stores = new Map();
    const bucket = Math.floor(this.now() / bucketMs(this.s.window));
    // Kept for the window plus two buckets: long enough for every reader of the window.
    const life = this.s.window + 2 * bucketMs(this.s.window);
    try {
      await this.counts.add(bucket, hashes, stores, life);
    } catch (err) {
      // Heat is an estimate: a lost second of counts only delays a reaction.
      this.log.debug({ err: (err as Error).message }, "hot: delivery counts not flushed");
    }
  }
}

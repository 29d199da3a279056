import type { AttemptCounters } from "../../core/ports/attempts.js";
import { ExpiringMap } from "./expiring.js";

// Attempt counters in one process's memory, for tests: the same windows and
// limits as the Redis ones, on an injectable clock.

export class MemoryAttempts implements AttemptCounters {
  private readonly counts: ExpiringMap<number>;
  private readonly expiry = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {
    this.counts = new ExpiringMap(now);
  }

  async attempt(keys: string[], windowMs: number, limits: number[]): Promise<number> {
    let wait = 0;
    keys.forEach((key, i) => {
      const n = (this.counts.get(key) ?? 0) + 1;
      if (n === 1) {
        this.counts.set(key, n, windowMs);
        this.expiry.set(key, this.now() + windowMs);
      } else this.counts.replace(key, n);
      if (n > limits[i]!) wait = Math.max(wait, (this.expiry.get(key) ?? 0) - this.now());
    });
    if (wait > 0) for (const key of keys) this.counts.replace(key, this.counts.get(key)! - 1);
    return wait;
  }

  async giveBack(keys: string[]): Promise<void> {
    for (const key of keys) {
      const n = this.counts.get(key);
      if (n !== undefined) this.counts.replace(key, n - 1);
    }
  }
}

import { randomUUID } from "node:crypto";
import type { Leases } from "./ports/lease.js";

// A per-hash lock, cluster-wide (a lease on <prefix>:removing:<hash>), taken by
// every job and tool that removes copies, so two removers never act on one
// hash at once, whichever node or tool they run in. It is a Lease: renewed
// while the work runs, freed by its TTL when the holder dies. Every hold has
// its own owner id, so two holds in one process exclude each other too.

export const REMOVAL_LOCK_TTL_MS = 30_000;

export interface HeldLock {
  /** False once the lease may have run out (a renewal found it gone, or none succeeded for a TTL). */
  held(): boolean;
  /** Keep the lease for one more TTL instead of releasing it: a change whose outcome is unknown may still be running. */
  linger(): void;
}

export class HashLocks {
  constructor(
    private readonly leases: Leases,
    private readonly prefix: string,
    /** Names the holder in the key's value, for an operator looking at Redis. */
    private readonly holder: string,
    private readonly ttlMs = REMOVAL_LOCK_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  key(hash: string): string {
    return `${this.prefix}:removing:${hash}`;
  }

  /** Runs `work` holding the hash's lock; undefined, without running it, when someone else holds it. */
  async with<T>(hash: string, work: (lock: HeldLock) => Promise<T>): Promise<{ value: T } | undefined> {
    const lease = this.leases.lease(this.key(hash), `${this.holder}:${randomUUID()}`, this.ttlMs);
    if (!(await lease.acquire())) return undefined;
    let confirmed = this.now();
    let lost = false;
    let linger = false;
    const renew = setInterval(
      () =>
        void lease.renew().then(
          (ours) => {
            if (ours) confirmed = this.now();
            else lost = true;
          },
          // Retried at the next tick; held() turns false if none succeeds within a TTL.
          () => undefined,
        ),
      Math.max(100, Math.floor(this.ttlMs / 3)),
    );
    const lock: HeldLock = {
      held: () => !lost && this.now() - confirmed < this.ttlMs,
      linger: () => {
        linger = true;
      },
    };
    try {
      return { value: await work(lock) };
    } finally {
      clearInterval(renew);
      await (linger ? lease.renew() : lease.release()).catch(() => undefined);
    }
  }
}

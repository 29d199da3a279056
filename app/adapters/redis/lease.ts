import type { Redis } from "ioredis";
import { timedRedis } from "./index.js";

// A lock with a lease in the shared Redis: one holder at a time cluster-wide,
// and a holder that dies frees it when the lease runs out. Renew and release
// only touch the key while it still names this holder.

const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

export class Lease {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lease if it is free (or already ours, which renews it). */
  async acquire(): Promise<boolean> {
    const taken = await timedRedis("lease take", () => this.redis.set(this.key, this.owner, "PX", this.ttlMs, "NX"));
    if (taken === "OK") return true;
    return this.renew();
  }

  /** Extends the lease; false when it is no longer ours (it expired and someone else took it). */
  async renew(): Promise<boolean> {
    const renewed = await timedRedis("lease renew", () =>
      this.redis.eval(RENEW, 1, this.key, this.owner, String(this.ttlMs)),
    );
    return Number(renewed) === 1;
  }

  async release(): Promise<void> {
    await timedRedis("lease release", () => this.redis.eval(RELEASE, 1, this.key, this.owner));
  }
}

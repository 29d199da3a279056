import type { Redis } from "ioredis";
import type { Lease, Leases } from "../../core/ports/lease.js";
import { timedRedis } from "./index.js";

// The Lease port in the shared Redis: a key set with NX and a TTL, renewed and
// released through scripts that check the holder first.

const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

export class RedisLease implements Lease {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  async acquire(): Promise<boolean> {
    const taken = await timedRedis("lease take", () => this.redis.set(this.key, this.owner, "PX", this.ttlMs, "NX"));
    if (taken === "OK") return true;
    return this.renew();
  }

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

export const redisLeases = (redis: Redis): Leases => ({
  lease: (key, owner, ttlMs) => new RedisLease(redis, key, owner, ttlMs),
});

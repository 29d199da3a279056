import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { redisCall } from "../adapters/redis/index.js";
import type { Config } from "../config.js";
import { TooManyRequests } from "../errors.js";

// Failed logins counted per client address and per user name, in Redis so
// every prism (and worker) shares the count. Past either limit a login is
// refused with 429 before CouchDB is asked, until the window ends: password
// guessing is slowed, and CouchDB's costly hashing is not ours to hand out.
// Counting failures only keeps clients that log in often unaffected.

export class LoginLimit {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly settings: Config["login"],
  ) {}

  private counters(ip: string, name: string): { key: string; max: number }[] {
    const user = createHash("sha256").update(name).digest("hex");
    return [
      { key: `${this.prefix}:login-failed:address:${ip}`, max: this.settings.perAddress },
      { key: `${this.prefix}:login-failed:user:${user}`, max: this.settings.perUser },
    ];
  }

  /** TooManyRequests, with the seconds to wait, when this address or user name is past its limit. */
  async check(ip: string, name: string): Promise<void> {
    const counters = this.counters(ip, name);
    const batch = this.redis.multi();
    for (const c of counters) batch.get(c.key).pttl(c.key);
    const replies = (await redisCall("login limit", () => batch.exec())) ?? [];
    let waitMs = 0;
    counters.forEach((c, i) => {
      const count = Number(replies[2 * i]?.[1] ?? 0);
      const ttl = Number(replies[2 * i + 1]?.[1] ?? -1);
      if (count >= c.max) waitMs = Math.max(waitMs, ttl > 0 ? ttl : this.settings.window);
    });
    if (waitMs > 0) {
      const retryAfter = Math.ceil(waitMs / 1000);
      throw new TooManyRequests("Too many failed logins; try again later", { retryAfter });
    }
  }

  /** Counts a failed login; each counter's window starts at its first failure. */
  async failed(ip: string, name: string): Promise<void> {
    const batch = this.redis.multi();
    for (const c of this.counters(ip, name)) batch.set(c.key, 0, "PX", this.settings.window, "NX").incr(c.key);
    await redisCall("login failed", () => batch.exec());
  }
}

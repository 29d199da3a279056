import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { redisCall } from "../adapters/redis/index.js";
import type { Config } from "../config.js";
import { TooManyRequests } from "../errors.js";

// Failed logins counted per client address and per user name, in Redis so
// every prism (and worker) shares the count. Past either limit a login is
// refused with 429 before CouchDB is asked, until the window ends: password
// guessing is slowed, and CouchDB's costly hashing is not ours to hand out.
// An attempt is counted before its password is checked, so a burst of
// parallel guesses cannot all pass the limit; a login that succeeds (or that
// CouchDB could not check) gives its count back.

// KEYS: the counters; ARGV: the window (ms), then each counter's limit. Answers the ms to wait (0: go ahead).
const ATTEMPT = `
local wait = 0
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
  if n > tonumber(ARGV[i + 1]) then
    local ttl = redis.call('PTTL', key)
    wait = math.max(wait, ttl > 0 and ttl or tonumber(ARGV[1]))
  end
end
if wait > 0 then for _, key in ipairs(KEYS) do redis.call('DECR', key) end end
return wait`;

// A counter whose window ended meanwhile is gone, and stays gone.
const GIVE_BACK = `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0`;

export class LoginLimit {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly settings: Config["login"],
  ) {}

  private keys(ip: string, name: string): string[] {
    const user = createHash("sha256").update(name).digest("hex");
    return [`${this.prefix}:login-failed:address:${ip}`, `${this.prefix}:login-failed:user:${user}`];
  }

  /**
   * Counts an attempt; TooManyRequests (with the seconds to wait) when this
   * address or user name is past its limit. Answers the function that gives
   * the count back, for an attempt that did not fail on its password.
   */
  async attempt(ip: string, name: string): Promise<() => Promise<void>> {
    const keys = this.keys(ip, name);
    const { window, perAddress, perUser } = this.settings;
    const waitMs = Number(
      await redisCall("login limit", () => this.redis.eval(ATTEMPT, keys.length, ...keys, window, perAddress, perUser)),
    );
    if (waitMs > 0) {
      throw new TooManyRequests("Too many failed logins; try again later", { retryAfter: Math.ceil(waitMs / 1000) });
    }
    return async () => {
      await redisCall("login limit", () => this.redis.eval(GIVE_BACK, keys.length, ...keys));
    };
  }
}

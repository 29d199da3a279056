import type { Redis } from "ioredis";
import type { AttemptCounters } from "../../core/ports/attempts.js";
import { redisCall } from "./index.js";

// Attempt counters in the shared Redis, each check-and-count one Lua step.

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

export class RedisAttempts implements AttemptCounters {
  constructor(private readonly redis: Redis) {}

  async attempt(keys: string[], windowMs: number, limits: number[]): Promise<number> {
    return Number(
      await redisCall("login limit", () => this.redis.eval(ATTEMPT, keys.length, ...keys, windowMs, ...limits)),
    );
  }

  async giveBack(keys: string[]): Promise<void> {
    await redisCall("login limit", () => this.redis.eval(GIVE_BACK, keys.length, ...keys));
  }
}

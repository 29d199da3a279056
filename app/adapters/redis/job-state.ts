import type { Redis } from "ioredis";
import type { JobState } from "../../core/ports/job-state.js";
import { redisCall } from "./index.js";

// The JobState port in the shared Redis: a record is a JSON string, a map a
// hash of JSON strings, under the caller's key.

const parse = <T>(raw: string | null | undefined): T | undefined => (raw ? (JSON.parse(raw) as T) : undefined);

export class RedisJobState implements JobState {
  constructor(private readonly redis: Redis) {}

  async read<T>(key: string): Promise<T | undefined> {
    return parse<T>(await redisCall("job state read", () => this.redis.get(key)));
  }

  async readMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    if (keys.length === 0) return [];
    return (await redisCall("job state read", () => this.redis.mget(keys))).map((raw) => parse<T>(raw));
  }

  async write(key: string, value: unknown): Promise<void> {
    await redisCall("job state write", () => this.redis.set(key, JSON.stringify(value)));
  }

  async entries<T>(key: string): Promise<Map<string, T>> {
    const raw = await redisCall("job state entries", () => this.redis.hgetall(key));
    return new Map(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v) as T]));
  }

  async setEntry(key: string, field: string, value: unknown): Promise<void> {
    await redisCall("job state set entry", () => this.redis.hset(key, field, JSON.stringify(value)));
  }

  async deleteEntry(key: string, field: string): Promise<void> {
    await redisCall("job state delete entry", () => this.redis.hdel(key, field));
  }
}

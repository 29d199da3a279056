import type { Redis } from "ioredis";
import type { Tallies } from "../../core/ports/tallies.js";

// A node's counters in one Redis HASH (`<prefix>:counter:<role>:<name>`), one pipeline per batch.

export class RedisTallies implements Tallies {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  async add(counts: Map<string, number>): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const [name, by] of counts) pipe.hincrby(this.key, name, by);
    const results = (await pipe.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }

  read(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.key);
  }

  clear(): Promise<number> {
    return this.redis.del(this.key);
  }
}

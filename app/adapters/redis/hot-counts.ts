import type { Redis } from "ioredis";
import type { HotCounts } from "../../core/ports/hot.js";

// Hot-content counts in the shared Redis: per bucket a ZSET hash → deliveries
// and a HASH store → deliveries, each expiring once no window covers it; a
// ZSET of the hashes that are hot (hash → when last seen hot) and per hash
// the SET of stores that got an extra copy.

export const hotKeys = (prefix: string) => ({
  deliveries: (bucket: number) => `${prefix}:hot:deliveries:${bucket}`,
  stores: (bucket: number) => `${prefix}:hot:stores:${bucket}`,
  active: `${prefix}:hot:active`,
  extra: (hash: string) => `${prefix}:hot:extra:${hash}`,
  /** Where a window's buckets are summed; made and dropped inside one MULTI, so one key serves every caller. */
  sum: `${prefix}:hot:sum`,
});

export class RedisHotCounts implements HotCounts {
  private readonly keys: ReturnType<typeof hotKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = hotKeys(prefix);
  }

  async add(bucket: number, hashes: Map<string, number>, stores: Map<string, number>, lifeMs: number): Promise<void> {
    const pipe = this.redis.pipeline();
    const d = this.keys.deliveries(bucket);
    for (const [hash, n] of hashes) pipe.zincrby(d, n, hash);
    if (hashes.size > 0) pipe.pexpire(d, lifeMs);
    const st = this.keys.stores(bucket);
    for (const [store, n] of stores) pipe.hincrby(st, store, n);
    if (stores.size > 0) pipe.pexpire(st, lifeMs);
    await pipe.exec();
  }

  async rates(buckets: number[], o: { min: number; limit: number }): Promise<[string, number][]> {
    const keys = buckets.map((b) => this.keys.deliveries(b));
    const res = await this.redis
      .multi()
      .zunionstore(this.keys.sum, keys.length, ...keys)
      .zrevrangebyscore(this.keys.sum, "+inf", o.min, "WITHSCORES", "LIMIT", 0, o.limit)
      .del(this.keys.sum)
      .exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw failed?.[0] ?? new Error("transaction aborted");
    const flat = res[1]![1] as string[];
    const out: [string, number][] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
    return out;
  }

  async storeLoad(buckets: number[]): Promise<Map<string, number>> {
    const pipe = this.redis.pipeline();
    for (const b of buckets) pipe.hgetall(this.keys.stores(b));
    const out = new Map<string, number>();
    for (const [err, value] of (await pipe.exec()) ?? []) {
      if (err) throw err;
      for (const [store, n] of Object.entries(value as Record<string, string>))
        out.set(store, (out.get(store) ?? 0) + Number(n));
    }
    return out;
  }

  async markHot(hashes: string[], at: number): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const hash of hashes) pipe.zadd(this.keys.active, at, hash);
    await pipe.exec();
  }

  hotUntil(before: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.active, "-inf", before);
  }

  extras(hash: string): Promise<string[]> {
    return this.redis.smembers(this.keys.extra(hash));
  }

  async addExtra(hash: string, store: string): Promise<void> {
    await this.redis.sadd(this.keys.extra(hash), store);
  }

  async dropExtras(hash: string, stores: string[]): Promise<void> {
    if (stores.length > 0) await this.redis.srem(this.keys.extra(hash), ...stores);
  }

  async forget(hash: string): Promise<void> {
    await this.redis.multi().zrem(this.keys.active, hash).del(this.keys.extra(hash)).exec();
  }
}

import { parseTimestamp, purchaseKeyPattern, ttlMs } from "../app/core/purchase.js";
import type { Migration, MigrationContext } from "./lib/types.js";

// OOSE 2.2-final left its Redis purchases without a TTL (the prune meant to
// set one but called a method that does not exist). Every purchase HASH with
// no TTL gets expirationDate + afterlife − now; one already past that is
// deleted (counted "dropped"). Keys that already expire (ours, or 0003's) and
// non-hash keys under the prefix (2.3's caches) are not touched or counted.
// SCAN's cursor is the checkpoint; a key seen twice already has its TTL.

/** Applies the change only if the key still has no TTL: 1 applied, 0 someone else got there. */
const APPLY = `
if redis.call('PTTL', KEYS[1]) ~= -1 then return 0 end
if ARGV[1] == 'del' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1`;

interface ScanCheckpoint {
  cursor: string;
  scanned: number;
}

async function batch(ctx: MigrationContext, keys: string[]): Promise<void> {
  const redis = await ctx.redis();
  const prefix = `${ctx.settings.redisPrefix}:purchase:`;
  // `<prefix>:purchase:<token>` only; `…:purchase:cache:<token>` and the like are not purchases.
  const candidates = [...new Set(keys)].filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes(":"));
  if (candidates.length === 0) return;
  const read = redis.pipeline();
  for (const key of candidates) read.type(key).pttl(key).hget(key, "expirationDate");
  const answers = (await read.exec()) ?? [];
  const now = ctx.now();
  const changes: { key: string; action: string; drop: boolean }[] = [];
  for (const [i, key] of candidates.entries()) {
    const [[e1, type], [e2, pttl], [e3, exp]] = answers.slice(i * 3, i * 3 + 3) as [
      [Error | null, unknown],
      [Error | null, unknown],
      [Error | null, unknown],
    ];
    const err = e1 ?? e2 ?? e3;
    if (err) {
      ctx.fail(key, err.message);
      continue;
    }
    if (type !== "hash" || pttl !== -1) continue;
    const expirationDate = parseTimestamp(exp);
    if (expirationDate === undefined) {
      ctx.skip(key, "purchase without a valid expirationDate");
      continue;
    }
    const ttl = ttlMs(expirationDate, ctx.settings.afterlife, now);
    changes.push({ key, action: ttl <= 0 ? "del" : String(ttl), drop: ttl <= 0 });
  }
  if (ctx.dryRun) {
    for (const c of changes) ctx.counts[c.drop ? "dropped" : "moved"]++;
    return;
  }
  const write = redis.pipeline();
  for (const c of changes) write.eval(APPLY, 1, c.key, c.action);
  const results = (await write.exec()) ?? [];
  results.forEach(([err, applied], i) => {
    const c = changes[i]!;
    if (err) ctx.fail(c.key, err.message);
    else if (applied === 1) ctx.counts[c.drop ? "dropped" : "moved"]++;
    else ctx.counts.exists++;
  });
}

const migration: Migration = {
  description: "Redis purchases in the 2.2-final layout (no TTL) get expirationDate + afterlife",
  async up(ctx) {
    const redis = await ctx.redis();
    const cp = ctx.checkpoint.get<ScanCheckpoint>();
    let cursor = cp?.cursor ?? "0";
    let scanned = cp?.scanned ?? 0;
    ctx.progress.begin("redis purchases", await redis.dbsize(), scanned);
    do {
      ctx.signal.throwIfAborted();
      const [next, keys] = await redis.scan(
        cursor,
        "MATCH",
        purchaseKeyPattern(ctx.settings.redisPrefix),
        "COUNT",
        ctx.settings.batchSize,
      );
      await batch(ctx, keys);
      cursor = next;
      scanned += keys.length;
      await ctx.checkpoint.set<ScanCheckpoint>({ cursor, scanned });
      ctx.progress.update(scanned, ctx.counts);
    } while (cursor !== "0");
    ctx.progress.end(ctx.counts);
    if (ctx.counts.dropped > 0) ctx.note(`${ctx.counts.dropped} purchase(s) past expirationDate + afterlife deleted`);
  },
};

export default migration;

import type { Redis } from "ioredis";
import { parseTimestamp, purchaseKeyPattern, ttlMs } from "../core/purchase.js";
import { defineCommand, intOption } from "./common.js";
import { action, addOpsOptions, connect, EXIT, type OpsFlags, secs, UsageError } from "./ops.js";
import { reporter } from "./progress.js";

// `oose purchases prune`: purchases carried over from legacy layouts without a
// TTL (OOSE 2.2-final never set one) get expirationDate + afterlife, and those
// already past it are deleted. Purchases that expire already are not touched;
// other keys under the prefix are not purchases and are left alone. Each
// change applies only if the key still has no TTL, so a purchase rewritten
// meanwhile by a prism keeps its own. Safe to re-run and to interrupt.

interface Flags extends OpsFlags {
  dryRun?: boolean;
  batchSize: number;
}

export interface PruneCounts {
  scanned: number;
  /** Purchases that already expire by themselves. */
  expiring: number;
  ttlSet: number;
  deleted: number;
  /** No TTL and no readable expirationDate: left for an operator. */
  unreadable: number;
  /** Keys under the purchase prefix that are not purchase records. */
  other: number;
  errors: number;
}

/** Sets the TTL, or deletes, only if the key still has none: 1 applied, 0 someone else got there. */
const APPLY = `
if redis.call('PTTL', KEYS[1]) ~= -1 then return 0 end
if ARGV[1] == 'del' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1`;

export async function prunePurchases(
  redis: Redis,
  o: { prefix: string; afterlife: number; batchSize: number; dryRun: boolean; now?: () => number },
  progress?: (counts: PruneCounts) => void,
  problem?: (key: string, why: string) => void,
): Promise<PruneCounts> {
  const counts: PruneCounts = { scanned: 0, expiring: 0, ttlSet: 0, deleted: 0, unreadable: 0, other: 0, errors: 0 };
  const now = o.now ?? Date.now;
  const base = `${o.prefix}:purchase:`;
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", purchaseKeyPattern(o.prefix), "COUNT", o.batchSize);
    cursor = next;
    const keys = [...new Set(found)];
    counts.scanned += keys.length;
    // `<prefix>:purchase:<token>` only: `…:purchase:cache:<token>` and the like are not purchases.
    const candidates = keys.filter((k) => !k.slice(base.length).includes(":"));
    counts.other += keys.length - candidates.length;
    const read = redis.pipeline();
    for (const key of candidates) read.type(key).pttl(key).hget(key, "expirationDate");
    const answers = candidates.length > 0 ? ((await read.exec()) ?? []) : [];
    const changes: { key: string; arg: string }[] = [];
    candidates.forEach((key, i) => {
      const [[e1, type], [e2, pttl], [e3, exp]] = answers.slice(i * 3, i * 3 + 3) as [
        [Error | null, unknown],
        [Error | null, unknown],
        [Error | null, unknown],
      ];
      const err = e1 ?? e2 ?? e3;
      if (err) {
        counts.errors++;
        problem?.(key, err.message);
      } else if (type !== "hash") counts.other++;
      else if (pttl !== -1) counts.expiring++;
      else {
        const expirationDate = parseTimestamp(exp);
        if (expirationDate === undefined) {
          counts.unreadable++;
          problem?.(key, "no TTL and no readable expirationDate: left alone");
          return;
        }
        const ttl = ttlMs(expirationDate, o.afterlife, now());
        changes.push({ key, arg: ttl <= 0 ? "del" : String(ttl) });
      }
    });
    if (o.dryRun) for (const c of changes) counts[c.arg === "del" ? "deleted" : "ttlSet"]++;
    else if (changes.length > 0) {
      const write = redis.pipeline();
      for (const c of changes) write.eval(APPLY, 1, c.key, c.arg);
      const results = (await write.exec()) ?? [];
      results.forEach(([err, applied], i) => {
        const c = changes[i]!;
        if (err) {
          counts.errors++;
          problem?.(c.key, err.message);
        } else if (applied === 1) counts[c.arg === "del" ? "deleted" : "ttlSet"]++;
        else counts.expiring++;
      });
    }
    progress?.(counts);
  } while (cursor !== "0");
  return counts;
}

async function prune(flags: Flags): Promise<number> {
  const c = connect(flags, "purchases");
  try {
    const redis = c.redis();
    if (!redis)
      throw new UsageError("Redis: pass --redis or --sentinels, or set OOSE_REDIS__URL / OOSE_REDIS__SENTINELS");
    const progress = reporter(flags);
    const started = performance.now();
    const line = (n: PruneCounts) =>
      `ttl set ${n.ttlSet} deleted ${n.deleted} expiring ${n.expiring} errors ${n.errors}`;
    progress.begin("purchases prune");
    const problems: string[] = [];
    const counts = await prunePurchases(
      redis,
      {
        prefix: c.prefix,
        afterlife: c.config.purchase.afterlife,
        batchSize: flags.batchSize,
        dryRun: Boolean(flags.dryRun),
      },
      (n) => progress.update(n.scanned, line(n)),
      (key, why) => {
        if (problems.length < 20) problems.push(`${key}: ${why}`);
      },
    );
    progress.end(line(counts));
    const ms = performance.now() - started;
    if (flags.json) console.log(JSON.stringify({ dryRun: Boolean(flags.dryRun), ...counts, problems, ms }));
    else {
      console.log(`\npurchases prune${flags.dryRun ? " (dry run: nothing was changed)" : ""}`);
      console.log(`  scanned      ${counts.scanned} key(s) under ${c.prefix}:purchase:`);
      console.log(`  ttl set      ${counts.ttlSet} (expirationDate + afterlife)`);
      console.log(`  deleted      ${counts.deleted} (past expirationDate + afterlife)`);
      console.log(`  expiring     ${counts.expiring} (already had a TTL)`);
      console.log(`  unreadable   ${counts.unreadable}, other keys ${counts.other}, errors ${counts.errors}`);
      for (const p of problems) console.log(`  ${p}`);
      console.log(`  took         ${secs(ms)}`);
      console.log(counts.errors === 0 ? "OK" : "FAILED");
    }
    return counts.errors === 0 ? EXIT.ok : EXIT.failed;
  } finally {
    await c.close();
  }
}

defineCommand((program) => {
  const purchases = program.command("purchases").description("maintenance of the purchase records in Redis");
  addOpsOptions(
    purchases
      .command("prune")
      .description("give TTL-less purchases (legacy layouts) their expiry; delete those already past it"),
    { redis: true },
  )
    .option("--dry-run", "change nothing; report what would be done")
    .option("--batch-size <n>", "keys per SCAN step", intOption("--batch-size", 1), 1000)
    .action(action(prune));
});

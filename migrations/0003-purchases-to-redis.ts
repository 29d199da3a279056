import { purchaseKey, toRedisHash, ttlMs } from "../app/core/purchase.js";
import { type AnyDoc, dbExists, docCount, type Row, rangeHasDocs } from "./lib/couch.js";
import { legacyPrefix, purchaseFromCouch } from "./lib/legacy.js";
import { type Pass, prefixRange, runPasses } from "./lib/passes.js";
import type { Migration, MigrationContext } from "./lib/types.js";

// CouchDB purchases → Redis `<prefix>:purchase:<token>` hashes (2.2-final's
// shape) with TTL = expirationDate + afterlife − now. Sources: the
// `<database>-purchase` database (2.1–2.2.0-tag keys `<token>`, and 2.0.4's
// `oose:purchase:<token>`) and the 2.0.x single database's `oose:purchase:` range.
// A purchase past its afterlife is dropped (counted). A token already in Redis
// is left alone (counted "exists"). CouchDB is only read: drop
// `<database>-purchase` by hand once you are satisfied.

/** Writes the hash and its TTL atomically, only when the key is new: 1 written, 0 existed. */
const WRITE_NEW = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

function handler(ctx: MigrationContext) {
  return async (rows: Row[]) => {
    const now = ctx.now();
    const ready: { key: string; ttl: number; fields: string[] }[] = [];
    for (const row of rows) {
      if (!row.doc || row.id.startsWith("_design/")) continue;
      const p = purchaseFromCouch(row.id, row.doc);
      if ("skip" in p) {
        ctx.skip(row.id, p.skip);
        continue;
      }
      const ttl = ttlMs(p.expirationDate, ctx.settings.afterlife, now);
      if (ttl <= 0) {
        ctx.counts.dropped++;
        continue;
      }
      ready.push({
        key: purchaseKey(ctx.settings.redisPrefix, p.token),
        ttl,
        fields: Object.entries(toRedisHash(p)).flat(),
      });
    }
    if (ready.length === 0) return;
    const redis = await ctx.redis();
    const pipe = redis.pipeline();
    for (const r of ready) {
      if (ctx.dryRun) pipe.exists(r.key);
      else pipe.eval(WRITE_NEW, 1, r.key, String(r.ttl), ...r.fields);
    }
    const results = (await pipe.exec()) ?? [];
    results.forEach(([err, value], i) => {
      if (err) {
        ctx.fail(ready[i]!.key, err.message);
        return;
      }
      // Dry run: EXISTS answers 1 for "exists"; real run: the script answers 1 for "written".
      const existed = ctx.dryRun ? value === 1 : value === 0;
      ctx.counts[existed ? "exists" : "moved"]++;
    });
  };
}

const migration: Migration = {
  description: "CouchDB purchases (2.0.x–2.2.0) → Redis hashes with their remaining TTL",
  async up(ctx) {
    const sources: Pass[] = [];
    let total = 0;
    const purchaseDb = `${ctx.settings.database}-purchase`;
    if (await dbExists(ctx.couch, purchaseDb)) {
      sources.push({
        name: `purchase@${purchaseDb}`,
        db: ctx.couch.server.use<AnyDoc>(purchaseDb),
        start: "",
        end: "\ufff0",
        handle: handler(ctx),
      });
      total += await docCount(ctx.couch, purchaseDb);
    }
    const legacy = ctx.couch.server.use<AnyDoc>(ctx.settings.database);
    const range = prefixRange(legacyPrefix("purchase"));
    if (await rangeHasDocs(legacy, range.start, range.end)) {
      sources.push({ name: `purchase@${ctx.settings.database}`, db: legacy, ...range, handle: handler(ctx) });
      total += await docCount(ctx.couch, ctx.settings.database);
    }
    if (sources.length === 0) {
      ctx.note("no CouchDB purchases found; nothing to do");
      return;
    }
    await runPasses(ctx, sources, { label: "purchases → redis", total });
    if (ctx.counts.dropped > 0) ctx.note(`${ctx.counts.dropped} purchase(s) past expirationDate + afterlife dropped`);
    if (!ctx.dryRun) ctx.note(`CouchDB purchases left in place; drop ${purchaseDb} once the cluster runs on Redis`);
  },
};

export default migration;

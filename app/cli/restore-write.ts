import type { Redis } from "ioredis";
import { bulkWrite, fetchDocs } from "../adapters/couch/bulk.js";
import type { Couch } from "../adapters/couch/index.js";
import { redisCall } from "../adapters/redis/index.js";
import { DatabaseMissing } from "../errors.js";
import type { DocRecord, KeyRecord } from "./backup-archive.js";
import { dbOf, type Section } from "./backup-scope.js";

// The writes of a restore, a batch at a time. A doc is written only when the
// target's differs (with the target's _rev, so it updates rather than
// conflicts); a Redis key is set to the archive's value with the TTL it had
// left, and one that has expired since is skipped. Run twice, the second run
// finds everything unchanged.

export interface DocCounts {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

export interface KeyCounts {
  restored: number;
  /** Already holding the archive's value: left as it is, and no prism is told. */
  unchanged: number;
  expired: number;
  failed: number;
}

type Doc = DocRecord["doc"];

/** JSON with sorted keys: two docs with the same content compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

const same = (current: Record<string, unknown>, doc: Doc) => {
  const { _rev, ...rest } = current;
  return canonical(rest) === canonical(doc);
};

/** Writes one batch of a section's docs; answers the ids written. Conflicts (a writer meanwhile) are tried again. */
export async function restoreDocs(
  couch: Couch,
  section: Section,
  docs: Doc[],
  o: { dryRun: boolean; counts: DocCounts; problem: (id: string, why: string) => void },
): Promise<string[]> {
  const db = dbOf(couch, section);
  const written: string[] = [];
  let pending = docs;
  for (let attempt = 0; pending.length > 0 && attempt < 5; attempt++) {
    const current = await fetchDocs<Record<string, unknown>>(
      db,
      pending.map((d) => d._id),
      undefined,
      section,
    ).catch((err) => {
      // A dry run creates no database: one that is missing would get every doc.
      if (o.dryRun && err instanceof DatabaseMissing) return new Map<string, Record<string, unknown>>();
      throw err;
    });
    const writes: (Doc & { _rev?: string })[] = [];
    for (const doc of pending) {
      const cur = current.get(doc._id);
      if (cur && same(cur, doc)) o.counts.unchanged++;
      else writes.push(cur ? { ...doc, _rev: cur._rev } : doc);
    }
    if (o.dryRun) {
      for (const w of writes) o.counts[w._rev ? "updated" : "created"]++;
      return [];
    }
    const outcomes = await bulkWrite(db, writes, undefined, section);
    pending = [];
    outcomes.forEach((outcome, i) => {
      const { _rev, ...doc } = writes[i]!;
      if (outcome === "ok") {
        o.counts[_rev ? "updated" : "created"]++;
        written.push(doc._id);
      } else if (outcome === "conflict") pending.push(doc);
      else {
        o.counts.failed++;
        o.problem(doc._id, outcome.error);
      }
    });
  }
  for (const doc of pending) {
    o.counts.failed++;
    o.problem(doc._id, "kept conflicting with another writer");
  }
  return written;
}

/**
 * Sets a key to the archive's value: a hash or string replaced, a set's members added (newer sessions stay
 * listed). Answers 0 when the key already held it (its TTL left as it is), 1 when it wrote.
 */
const PUT = `local key, kind, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
local have = redis.call('TYPE', key).ok
if kind == 'set' then
  local added = 0
  for i = 3, #ARGV do added = added + redis.call('SADD', key, ARGV[i]) end
  local cur = redis.call('PTTL', key)
  if ttl > 0 and (cur == -1 or cur < ttl) then redis.call('PEXPIRE', key, ttl) end
  if added == 0 and have == 'set' then return 0 end
  return 1
end
if kind == 'hash' and have == 'hash' and redis.call('HLEN', key) * 2 == #ARGV - 2 then
  local same = true
  for i = 3, #ARGV, 2 do
    if redis.call('HGET', key, ARGV[i]) ~= ARGV[i + 1] then same = false break end
  end
  if same then return 0 end
end
if kind ~= 'hash' and have == 'string' and redis.call('GET', key) == ARGV[3] then return 0 end
redis.call('DEL', key)
if kind == 'hash' then
  for i = 3, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
else
  redis.call('SET', key, ARGV[3])
end
if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
return 1`;

const args = (r: KeyRecord): string[] =>
  r.type === "hash" ? Object.entries(r.value).flat() : r.type === "set" ? r.value : [r.value];

/** Writes one batch of keys under `prefix`; answers the keys written (relative to the prefix). */
export async function restoreKeys(
  redis: Redis,
  prefix: string,
  records: KeyRecord[],
  o: { dryRun: boolean; counts: KeyCounts; now?: () => number; problem: (key: string, why: string) => void },
): Promise<string[]> {
  const now = (o.now ?? Date.now)();
  const live = records.filter((r) => {
    const left = r.expiresAt === null ? -1 : r.expiresAt - now;
    if (r.expiresAt !== null && left <= 0) o.counts.expired++;
    return r.expiresAt === null || left > 0;
  });
  if (o.dryRun) {
    o.counts.restored += live.length;
    return [];
  }
  if (live.length === 0) return [];
  const pipe = redis.pipeline();
  for (const r of live) {
    const ttl = r.expiresAt === null ? -1 : Math.max(1, Math.round(r.expiresAt - now));
    pipe.eval(PUT, 1, `${prefix}:${r.key}`, r.type, String(ttl), ...args(r));
  }
  const results = await redisCall("restore keys", async () => (await pipe.exec()) ?? []);
  const written: string[] = [];
  results.forEach(([err, wrote], i) => {
    const r = live[i]!;
    if (err) {
      o.counts.failed++;
      o.problem(r.key, err.message);
    } else if (wrote === 0) {
      o.counts.unchanged++;
    } else {
      o.counts.restored++;
      written.push(r.key);
    }
  });
  return written;
}

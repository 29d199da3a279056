import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { bulkWrite } from "../adapters/couch/bulk.js";
import type { Couch } from "../adapters/couch/index.js";
import { retrying } from "../adapters/couch/retry.js";
import { redisCall } from "../adapters/redis/index.js";
import { dbOf, isSection, REDIS_KINDS, type RedisKind, type Section, USER_RANGE, USERS } from "./backup-scope.js";

// `restore --prune`: what the target holds, in the parts the archive has, that
// the archive does not know is deleted. The archive's ids are kept as 64-bit
// digests in sorted arrays (8 bytes an id, not the ids), so a big inventory
// stays small; two ids sharing a digest can only keep a doc, never delete one.

const digest = (id: string) => createHash("sha1").update(id).digest().readBigUInt64BE(0);

export interface Known {
  add(part: string, id: string): void;
  /** Sorts the digests; call once every id is added. */
  seal(): void;
  has(part: string, id: string): boolean;
  parts(kind: "doc" | "key"): string[];
}

export function knownIds(): Known {
  const all = new Map<string, { ids: BigUint64Array; n: number }>();
  return {
    add(part, id) {
      const p = all.get(part) ?? { ids: new BigUint64Array(1024), n: 0 };
      all.set(part, p);
      if (p.n === p.ids.length) {
        const grown = new BigUint64Array(p.ids.length * 2);
        grown.set(p.ids);
        p.ids = grown;
      }
      p.ids[p.n++] = digest(id);
    },
    seal() {
      for (const p of all.values()) p.ids = p.ids.slice(0, p.n).sort();
    },
    has(part, id) {
      const ids = all.get(part)?.ids;
      if (!ids) return false;
      const d = digest(id);
      let lo = 0;
      let hi = ids.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (ids[mid] === d) return true;
        if (ids[mid]! < d) lo = mid + 1;
        else hi = mid - 1;
      }
      return false;
    },
    parts: (kind) => [...all.keys()].filter((p) => isSection(p) === (kind === "doc")),
  };
}

export interface Pruned {
  part: string;
  removed: number;
}

/** Deletes the section's docs the archive does not know, a page at a time. */
export async function pruneDocs(
  couch: Couch,
  section: Section,
  known: Known,
  dryRun: boolean,
  pageSize: number,
): Promise<Pruned> {
  const db = dbOf(couch, section);
  const range: { startkey?: string; endkey?: string } = section === USERS ? USER_RANGE : {};
  let start: string | undefined = range.startkey;
  let removed = 0;
  for (;;) {
    const res = await retrying(`list ${section}`, () =>
      db.list({ ...range, limit: pageSize, ...(start === undefined ? {} : { startkey: start }) }),
    );
    if (res.rows.length === 0) break;
    start = `${res.rows.at(-1)!.id}\u0000`;
    const gone = res.rows.filter((r) => !known.has(section, r.id));
    if (!dryRun && gone.length > 0) {
      const outcomes = await bulkWrite(
        db,
        gone.map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true })),
        undefined,
        section,
      );
      removed += outcomes.filter((o) => o === "ok").length;
    } else removed += gone.length;
    if (res.rows.length < pageSize) break;
  }
  return { part: section, removed };
}

/** Deletes the kind's keys the archive does not know. */
export async function pruneKeys(
  redis: Redis,
  prefix: string,
  kind: string,
  known: Known,
  dryRun: boolean,
  batch: number,
): Promise<Pruned> {
  const base = `${prefix}:${REDIS_KINDS[kind as RedisKind].pattern}`;
  let cursor = "0";
  let removed = 0;
  do {
    const [next, found] = await redisCall("prune scan", () => redis.scan(cursor, "MATCH", `${base}*`, "COUNT", batch));
    cursor = next;
    const gone = [...new Set(found)].filter(
      (k) => !k.slice(base.length).includes(":") && !known.has(kind, k.slice(prefix.length + 1)),
    );
    if (gone.length > 0) removed += dryRun ? gone.length : await redisCall("prune keys", () => redis.del(...gone));
  } while (cursor !== "0");
  return { part: kind, removed };
}

import type { Redis } from "ioredis";
import type { DocumentScope } from "nano";
import type { Couch } from "../adapters/couch/index.js";
import { retrying } from "../adapters/couch/retry.js";
import { redisCall } from "../adapters/redis/index.js";
import type { DocRecord, KeyRecord, RedisValue } from "./backup-archive.js";

// What a backup holds, and how each part is read page by page: every OOSE
// database (app/adapters/couch: peer, inventory, heartbeat, meta, and owner
// where 0005 made it), the `_users` docs of OOSE's users, and in Redis the
// purchases (app/core/purchase.ts) and sessions with each user's session set
// (app/adapters/redis/sessions.ts). Nothing else in Redis (counters, leases,
// job state) is worth restoring: nodes rebuild it.

// biome-ignore lint/suspicious/noExplicitAny: docs of every database
type Db = DocumentScope<any>;

export const USERS = "_users";
/** `_users` docs of API users (CouchDB's own design doc stays out). */
export const USER_RANGE = { startkey: "org.couchdb.user:", endkey: "org.couchdb.user:\ufff0" };

/** The databases in backup order, a kind or `_users`: referenced data after what references it (see restore). */
export const DB_ORDER = ["peer", "heartbeat", "meta", USERS, "owner", "inventory"] as const;
export type Section = (typeof DB_ORDER)[number];

export const isSection = (db: string): db is Section => (DB_ORDER as readonly string[]).includes(db);

export function dbOf(couch: Couch, section: Section): Db {
  return section === USERS ? couch.server.use(USERS) : couch.db(section as Exclude<Section, typeof USERS>);
}

export const dbName = (couch: Couch, section: Section) =>
  section === USERS ? USERS : couch.name(section as Exclude<Section, typeof USERS>);

/** The sections this CouchDB has (owner only once 0005 ran; `_users` only once a user exists). */
export async function presentSections(couch: Couch): Promise<Section[]> {
  const names = new Set(await retrying("list databases", () => couch.server.db.list()));
  return DB_ORDER.filter((s) => names.has(dbName(couch, s)));
}

/** Every doc of a section, without _rev, in id order (raw collation: a page starts after the last id). */
export async function* docsOf(couch: Couch, section: Section, pageSize: number): AsyncGenerator<DocRecord[]> {
  const db = dbOf(couch, section);
  const range: { startkey?: string; endkey?: string } = section === USERS ? USER_RANGE : {};
  let start: string | undefined = range.startkey;
  for (;;) {
    const res = await retrying(`list ${section}`, () =>
      db.list({ ...range, include_docs: true, limit: pageSize, ...(start === undefined ? {} : { startkey: start }) }),
    );
    if (res.rows.length === 0) return;
    start = `${res.rows.at(-1)!.id}\u0000`;
    yield res.rows.flatMap((r) => {
      if (!r.doc) return [];
      const { _rev, ...doc } = r.doc as { _id: string; _rev?: string } & Record<string, unknown>;
      return [{ db: section, doc }];
    });
    if (res.rows.length < pageSize) return;
  }
}

/** The Redis kinds: key pattern under the prefix, and the type a key of it has. */
export const REDIS_KINDS = {
  purchase: { pattern: "purchase:", type: "hash" },
  session: { pattern: "session:", type: "string" },
  "user-sessions": { pattern: "user-sessions:", type: "set" },
} as const satisfies Record<string, { pattern: string; type: RedisValue["type"] }>;
export type RedisKind = keyof typeof REDIS_KINDS;
export const isRedisKind = (k: string): k is RedisKind => Object.hasOwn(REDIS_KINDS, k);

const read = { hash: "hgetall", string: "get", set: "smembers" } as const;

/** Every key of a kind with its value and absolute expiry; keys of another type (or gone meanwhile) are left out. */
export async function* keysOf(
  redis: Redis,
  prefix: string,
  kind: RedisKind,
  batch: number,
  onSkipped: (key: string) => void,
): AsyncGenerator<KeyRecord[]> {
  const { pattern, type } = REDIS_KINDS[kind];
  const base = `${prefix}:${pattern}`;
  let cursor = "0";
  do {
    const [next, found] = await redisCall("backup scan", () => redis.scan(cursor, "MATCH", `${base}*`, "COUNT", batch));
    cursor = next;
    // `<prefix>:purchase:<token>` only: deeper names under it are not records.
    const keys = [...new Set(found)].filter((k) => !k.slice(base.length).includes(":"));
    if (keys.length === 0) continue;
    const pipe = redis.pipeline();
    for (const k of keys) pipe.type(k).pttl(k)[read[type]](k);
    const answers = await redisCall("backup read", async () => (await pipe.exec()) ?? []);
    const now = Date.now();
    const out: KeyRecord[] = [];
    keys.forEach((key, i) => {
      const [[e1, t], [e2, pttl], [e3, value]] = answers.slice(i * 3, i * 3 + 3) as [
        [Error | null, unknown],
        [Error | null, unknown],
        [Error | null, unknown],
      ];
      const err = e1 ?? e2 ?? e3;
      if (err) throw err;
      const empty = value === null || (typeof value === "object" && Object.keys(value as object).length === 0);
      if (t !== type || empty || (pttl as number) === -2) {
        onSkipped(key);
        return;
      }
      const expiresAt = (pttl as number) >= 0 ? now + (pttl as number) : null;
      out.push({ redis: kind, key: key.slice(prefix.length + 1), expiresAt, type, value } as KeyRecord);
    });
    if (out.length > 0) yield out;
  } while (cursor !== "0");
}

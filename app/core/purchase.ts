// Purchase records in Redis: `<prefix>:purchase:<token>`, a HASH of string fields
// in OOSE 2.2-final's shape (hash, ext, referrer comma-joined, life,
// expirationDate in ms, token), so records a 2.2 cluster wrote stay readable,
// plus the user who made it (`owner`), which OOSE-era records lack.
// The key lives until expirationDate + afterlife; delivery refuses it once
// expirationDate has passed. Pure helpers: no I/O.

import { randomInt } from "node:crypto";
import { InvalidToken } from "../errors.js";

export interface Purchase {
  token: string;
  hash: string;
  /** File extension without the dot. */
  ext: string;
  /** Allowed referrers; empty means any. */
  referrer: string[];
  /** Lifetime in ms the purchase was created with. */
  life: number;
  /** When delivery stops (ms since epoch). */
  expirationDate: number;
  /** The user name of the session that made it; none for OOSE-era records and the prism's own account. */
  owner?: string;
}

export type PurchaseHash = Record<Exclude<keyof Purchase, "owner">, string> & { owner?: string };

/** Who asks to manage a purchase: a user, or an admin (an admin role, or the prism's basic auth). */
export interface Actor {
  name?: string;
  admin: boolean;
}

/** CouchDB's server admins carry `_admin`; `admin` is the role operators give API admins in `_users`. */
export const ADMIN_ROLES: readonly string[] = ["_admin", "admin"];

/** A session's user, or (no session: the prism's basic auth) an admin. */
export function actorOf(user: { name: string; roles: string[] } | undefined): Actor {
  if (!user) return { admin: true };
  return { name: user.name, admin: user.roles.some((r) => ADMIN_ROLES.includes(r)) };
}

/** Admins manage every purchase; a user only their own. A record without owner is admin-only. */
export const mayManage = (p: Pick<Purchase, "owner">, actor: Actor) =>
  actor.admin || (!!p.owner && p.owner === actor.name);

export const purchaseKey = (prefix: string, token: string) => `${prefix}:purchase:${token}`;

/** Every Redis key pattern a purchase lives under (for SCAN). */
export const purchaseKeyPattern = (prefix: string) => `${prefix}:purchase:*`;

/** The fields of `p` given, each in its stored string format (a whole record, or the part an update changes). */
export function toRedisFields(p: Partial<Purchase>): Partial<PurchaseHash> {
  const out: Partial<PurchaseHash> = {};
  if (p.hash !== undefined) out.hash = p.hash;
  if (p.ext !== undefined) out.ext = p.ext;
  if (p.referrer !== undefined) out.referrer = p.referrer.join(",");
  if (p.life !== undefined) out.life = String(Math.trunc(p.life));
  if (p.expirationDate !== undefined) out.expirationDate = String(Math.trunc(p.expirationDate));
  if (p.token !== undefined) out.token = p.token;
  if (p.owner !== undefined) out.owner = p.owner;
  return out;
}

export const toRedisHash = (p: Purchase) => toRedisFields(p) as PurchaseHash;

/** A timestamp as OOSE stored it: ms as a number or numeric string, or a date string. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value !== "string" || value.trim() === "") return undefined;
  if (/^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Math.trunc(Number(value));
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** Referrers as OOSE stored them: an array (≤2.2.0-tag) or a comma-joined string (2.2-final+). */
export function parseReferrer(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [];
  return list
    .filter((r): r is string => typeof r === "string")
    .map((r) => r.trim())
    .filter((r) => r !== "");
}

/**
 * Reads a purchase HASH (HGETALL's answer). Undefined when the hash is empty or
 * lacks what delivery needs (hash, expirationDate). `token` fills in a missing
 * token field from the key.
 */
export function fromRedisHash(fields: Record<string, string> | null | undefined, token?: string): Purchase | undefined {
  if (!fields) return undefined;
  const hash = fields.hash?.trim();
  const expirationDate = parseTimestamp(fields.expirationDate);
  const tok = fields.token || token;
  if (!hash || expirationDate === undefined || !tok) return undefined;
  const life = parseTimestamp(fields.life);
  return {
    token: tok,
    hash,
    ext: (fields.ext ?? "").replace(/^\./, ""),
    referrer: parseReferrer(fields.referrer),
    life: life ?? 0,
    expirationDate,
    ...(fields.owner ? { owner: fields.owner } : {}),
  };
}

/** Remaining Redis lifetime: until expirationDate + afterlife. Zero or less means the record is gone. */
export function ttlMs(expirationDate: number, afterlife: number, now: number): number {
  return Math.floor(expirationDate + afterlife - now);
}

/** Delivery is refused once the expiration date has passed (the record may still exist in its afterlife). */
export const isExpired = (p: Pick<Purchase, "expirationDate">, now: number) => p.expirationDate <= now;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const PURCHASE_TOKEN = /^[A-Za-z0-9]{64}$/;

/** 64 alphanumerics from the CSPRNG (OOSE 2.2's format; OOSE drew them from Math.random). */
export function mintToken(): string {
  let token = "";
  for (let i = 0; i < 64; i++) token += ALPHABET[randomInt(ALPHABET.length)];
  return token;
}

export function checkToken(token: string): string {
  if (!PURCHASE_TOKEN.test(token)) throw new InvalidToken();
  return token;
}

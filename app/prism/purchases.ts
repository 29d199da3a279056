import { randomInt } from "node:crypto";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { Channels } from "../adapters/redis/channels.js";
import { redisCall } from "../adapters/redis/index.js";
import type { ReplicatedWrites } from "../adapters/redis/wait.js";
import { fromRedisHash, type Purchase, purchaseKey, toRedisHash, ttlMs } from "../core/purchase.js";
import { BackendUnavailable, InvalidToken, PurchaseNotFound } from "../errors.js";

// Purchases in the shared HA Redis, in OOSE 2.2-final's record shape. The key
// expires at expirationDate + afterlife, so purchases prune themselves; a write
// is acknowledged only once a replica has it (WAIT), so a failover loses none.

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

export interface PurchaseSettings {
  prefix: string;
  afterlife: number;
  /** How long a prism may answer from its own copy of a purchase; changes are announced at once. */
  cacheLife: number;
}

export const PURCHASE_CHANNEL = (prefix: string) => `${prefix}:purchase:changed`;

// KEYS[1] purchase key; ARGV[1] TTL in ms; ARGV[2..] field, value, …
const CREATE = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

export class Purchases {
  private readonly cache: LRUCache<string, Purchase>;

  constructor(
    private readonly redis: Redis,
    private readonly writes: ReplicatedWrites,
    private readonly s: PurchaseSettings,
    channels: Channels,
  ) {
    this.cache = new LRUCache({ max: 500_000, ttl: Math.max(s.cacheLife, 1) });
    channels.on(PURCHASE_CHANNEL(s.prefix), (token) => this.cache.delete(token));
  }

  private key(token: string) {
    return purchaseKey(this.s.prefix, token);
  }

  /** The purchase as delivery sees it: from this prism's short-lived copy, else one Redis read. */
  async get(token: string): Promise<Purchase | undefined> {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const fields = await redisCall("purchase get", () => this.redis.hgetall(this.key(token)));
    const found = fromRedisHash(fields, token);
    // Absence is not cached: a purchase made a moment ago on another prism must deliver here at once.
    if (found) this.cache.set(token, found);
    return found;
  }

  private async announce(token: string): Promise<void> {
    this.cache.delete(token);
    await this.redis.publish(PURCHASE_CHANNEL(this.s.prefix), token).catch(() => undefined);
  }

  async find(token: string): Promise<Purchase> {
    const found = await this.get(checkToken(token));
    if (!found) throw new PurchaseNotFound();
    return found;
  }

  /** Writes the record with its TTL, atomically, and waits for the replicas. */
  async save(p: Purchase, now = Date.now()): Promise<void> {
    const key = this.key(p.token);
    const ttl = ttlMs(p.expirationDate, this.s.afterlife, now);
    await this.writes.write("purchase save", async (conn) => {
      const res = await conn.multi().del(key).hset(key, toRedisHash(p)).pexpire(key, Math.max(ttl, 1)).exec();
      const failed = res?.find(([err]) => err);
      if (!res || failed) throw failed?.[0] ?? new Error("transaction aborted");
    });
    await this.announce(p.token);
  }

  /** Mints a token and writes the record in one atomic step (never over an existing one), then waits for replicas. */
  async create(input: Omit<Purchase, "token" | "expirationDate">, now = Date.now()): Promise<Purchase> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const purchase: Purchase = { ...input, token: mintToken(), expirationDate: now + input.life };
      const ttl = Math.max(ttlMs(purchase.expirationDate, this.s.afterlife, now), 1);
      const fields = Object.entries(toRedisHash(purchase)).flat();
      // A collision of 64 random alphanumerics is not expected; the script refuses one anyway.
      const created = await this.writes.write("purchase create", (conn) =>
        conn.eval(CREATE, 1, this.key(purchase.token), ttl, ...fields),
      );
      if (created !== 1) continue;
      // Nobody can hold a copy of a token minted just now, so there is nothing to announce.
      return purchase;
    }
    throw new BackendUnavailable("Could not mint a unique purchase token");
  }

  async remove(token: string): Promise<number> {
    checkToken(token);
    const count = await redisCall("purchase remove", () => this.redis.del(this.key(token)));
    await this.announce(token);
    return count;
  }
}

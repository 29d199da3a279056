import { randomInt } from "node:crypto";
import type { Redis } from "ioredis";
import { redisCall } from "../adapters/redis/index.js";
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
  waitReplicas: number;
  waitTimeoutMs: number;
}

export class Purchases {
  constructor(
    private readonly redis: Redis,
    private readonly s: PurchaseSettings,
  ) {}

  private key(token: string) {
    return purchaseKey(this.s.prefix, token);
  }

  async get(token: string): Promise<Purchase | undefined> {
    const fields = await redisCall("purchase get", () => this.redis.hgetall(this.key(token)));
    return fromRedisHash(fields, token);
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
    await redisCall("purchase save", async () => {
      const res = await this.redis.multi().del(key).hset(key, toRedisHash(p)).pexpire(key, Math.max(ttl, 1)).exec();
      const failed = res?.find(([err]) => err);
      if (!res || failed) throw failed?.[0] ?? new Error("transaction aborted");
    });
    if (this.s.waitReplicas > 0) {
      const acked = await redisCall("purchase wait", () => this.redis.wait(this.s.waitReplicas, this.s.waitTimeoutMs));
      if (acked < this.s.waitReplicas) {
        throw new BackendUnavailable(`Purchase not replicated (${acked}/${this.s.waitReplicas} replicas)`);
      }
    }
  }

  async create(input: Omit<Purchase, "token" | "expirationDate">, now = Date.now()): Promise<Purchase> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const token = mintToken();
      // A collision of 64 random alphanumerics is not expected; check anyway, as OOSE did.
      const taken = await redisCall("purchase exists", () => this.redis.exists(this.key(token)));
      if (taken) continue;
      const purchase: Purchase = { ...input, token, expirationDate: now + input.life };
      await this.save(purchase, now);
      return purchase;
    }
    throw new BackendUnavailable("Could not mint a unique purchase token");
  }

  async remove(token: string): Promise<number> {
    return redisCall("purchase remove", () => this.redis.del(this.key(checkToken(token))));
  }
}

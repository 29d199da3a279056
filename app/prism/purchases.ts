import { randomInt } from "node:crypto";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { Channels } from "../adapters/redis/channels.js";
import { redisCall } from "../adapters/redis/index.js";
import type { ReplicatedWrites } from "../adapters/redis/wait.js";
import {
  type Actor,
  fromRedisHash,
  mayManage,
  type Purchase,
  purchaseKey,
  toRedisFields,
  toRedisHash,
  ttlMs,
} from "../core/purchase.js";
import { BackendUnavailable, InvalidToken, PurchaseNotFound } from "../errors.js";
import { runScript, type Script, SCRIPTS } from "./purchase-scripts.js";

// Purchases in the shared HA Redis, in OOSE 2.2-final's record shape plus
// their owner. The key expires at expirationDate + afterlife, so purchases
// prune themselves; a write is acknowledged only once a replica has it (WAIT),
// so a failover loses none. Update and remove are Lua scripts that check the
// record and its owner, change it and announce the change in one atomic step.
//
// Each prism keeps the purchases it has seen. An entry answers by itself for
// `cacheLife`; after that it is read again, but while Redis does not answer
// (a failover) the entry still serves, until the purchase expires.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const PURCHASE_TOKEN = /^[A-Za-z0-9]{64}$/;

/** How long a delivery of a known purchase waits for Redis before it answers from the prism's copy. */
export const STALE_AFTER_MS = 250;

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
  /** How long a prism's copy of a purchase answers without a Redis read; changes are announced at once. */
  cacheLife: number;
  /** How long a read of a known purchase may take before the copy answers (default STALE_AFTER_MS). */
  staleAfterMs?: number;
}

export const PURCHASE_CHANNEL = (prefix: string) => `${prefix}:purchase:changed`;

interface Entry {
  purchase: Purchase;
  /** When the read that found it began. */
  at: number;
}

export class Purchases {
  /** Copies outlive cacheLife now, so the count is what bounds them: about 0.6 KB each, the least used go first. */
  private readonly cache = new LRUCache<string, Entry>({ max: 200_000 });
  /** One read per token at a time; a change notice drops the read on its way, which may predate the change. */
  private readonly reading = new Map<string, Promise<Purchase | undefined>>();
  /** Copies read before this may have missed a notice (the subscription was down): read them again. */
  private trustedSince = 0;

  constructor(
    private readonly redis: Redis,
    private readonly writes: ReplicatedWrites,
    private readonly s: PurchaseSettings,
    channels: Channels,
    private readonly now: () => number = Date.now,
  ) {
    channels.on(PURCHASE_CHANNEL(s.prefix), (token) => this.forget(token));
    channels.onResync(() => {
      this.trustedSince = this.now();
      this.reading.clear();
    });
  }

  private key(token: string) {
    return purchaseKey(this.s.prefix, token);
  }

  private forget(token: string): void {
    this.cache.delete(token);
    this.reading.delete(token);
  }

  private remember(purchase: Purchase, at: number): void {
    // Kept until the purchase expires: past that, delivery refuses it anyway.
    const ttl = Math.max(purchase.expirationDate - this.now(), this.s.cacheLife, 1);
    this.cache.set(purchase.token, { purchase, at }, { ttl });
  }

  /** The purchase as delivery sees it: this prism's copy, else one Redis read. */
  async get(token: string): Promise<Purchase | undefined> {
    const entry = this.cache.get(token);
    const now = this.now();
    if (entry && now - entry.at < this.s.cacheLife && entry.at >= this.trustedSince) return entry.purchase;
    if (!entry) return this.read(token);
    return this.readOrCopy(token, entry);
  }

  /** A known purchase: Redis's answer if it comes soon, else (a failover, an outage) the copy. */
  private async readOrCopy(token: string, entry: Entry): Promise<Purchase | undefined> {
    if (this.redis.status !== "ready") return entry.purchase;
    const read = this.read(token);
    // Once the copy has answered, a failure of the read is nobody's to handle.
    read.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), this.s.staleAfterMs ?? STALE_AFTER_MS);
    });
    try {
      const answer = await Promise.race([read, late]);
      return answer === "late" ? entry.purchase : answer;
    } catch (err) {
      if (err instanceof BackendUnavailable) return entry.purchase;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private read(token: string): Promise<Purchase | undefined> {
    const known = this.reading.get(token);
    if (known) return known;
    const at = this.now();
    const pending = redisCall("purchase get", () => this.redis.hgetall(this.key(token)))
      .then((fields) => {
        const found = fromRedisHash(fields, token);
        // Absence is not cached: a purchase made a moment ago on another prism must deliver here at once.
        if (this.reading.get(token) === pending) {
          if (found) this.remember(found, at);
          else this.cache.delete(token);
        }
        return found;
      })
      .finally(() => {
        if (this.reading.get(token) === pending) this.reading.delete(token);
      });
    this.reading.set(token, pending);
    return pending;
  }

  /** The purchase, if `actor` may manage it; another user's is as absent as a missing one. */
  async find(token: string, actor: Actor): Promise<Purchase> {
    const found = await this.get(checkToken(token));
    if (!found || !mayManage(found, actor)) throw new PurchaseNotFound();
    return found;
  }

  /** Mints a token and writes the record in one atomic step (never over an existing one), then waits for replicas. */
  async create(input: Omit<Purchase, "token" | "expirationDate">): Promise<Purchase> {
    const now = this.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      const purchase: Purchase = { ...input, token: mintToken(), expirationDate: now + input.life };
      const ttl = Math.max(ttlMs(purchase.expirationDate, this.s.afterlife, now), 1);
      const fields = Object.entries(toRedisHash(purchase)).flat();
      // A collision of 64 random alphanumerics is not expected; the script refuses one anyway.
      const created = await this.writes.write("purchase create", (conn) =>
        runScript(conn, SCRIPTS.create, [this.key(purchase.token)], [ttl, ...fields]),
      );
      if (created !== 1) continue;
      // Nobody can have announced a change to a token minted just now: this prism can deliver it from its copy.
      this.remember(purchase, now);
      return purchase;
    }
    throw new BackendUnavailable("Could not mint a unique purchase token");
  }

  /**
   * Changes the referrers and/or the life (from now) of a purchase `actor` may manage. Only the fields
   * given are written, and only if the record still exists, so neither a concurrent update nor a remove is undone.
   */
  async update(token: string, actor: Actor, change: { referrer?: string[]; life?: number }): Promise<Purchase> {
    checkToken(token);
    const now = this.now();
    const expirationDate = change.life === undefined ? undefined : now + change.life;
    const fields = toRedisFields({ referrer: change.referrer, life: change.life, expirationDate });
    const ttl = expirationDate === undefined ? "" : Math.max(ttlMs(expirationDate, this.s.afterlife, now), 1);
    const reply = await this.changed(token, "purchase update", SCRIPTS.update, actor, [ttl, ...Object.entries(fields).flat()]);
    const updated = Array.isArray(reply) ? fromRedisHash(pairs(reply as string[]), token) : undefined;
    if (!updated) throw new PurchaseNotFound();
    return updated;
  }

  /** Removes a purchase `actor` may manage: 1, or 0 when there is none. */
  async remove(token: string, actor: Actor): Promise<number> {
    checkToken(token);
    const count = Number(await this.changed(token, "purchase remove", SCRIPTS.remove, actor, []));
    if (count < 0) throw new PurchaseNotFound();
    return count;
  }

  private async changed(token: string, what: string, script: Script, actor: Actor, args: (string | number)[]) {
    const key = this.key(token);
    const who = [actor.admin ? "1" : "0", actor.name ?? "", PURCHASE_CHANNEL(this.s.prefix), token];
    try {
      return await this.writes.write(what, (conn) => runScript(conn, script, [key], [...who, ...args]));
    } finally {
      // Whatever the outcome, this prism's copy may be out of date (the other prisms hear the script's notice).
      this.forget(token);
    }
  }
}

/** HGETALL's flat reply from a script as an object. */
function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

import type { Redis } from "ioredis";
import type { PurchaseChange, PurchaseStore } from "../../core/ports/purchases.js";
import {
  type Actor,
  fromRedisHash,
  type Purchase,
  purchaseKey,
  toRedisFields,
  toRedisHash,
} from "../../core/purchase.js";
import type { Channels } from "./channels.js";
import { redisCall } from "./index.js";
import { runScript, type Script, SCRIPTS } from "./purchase-scripts.js";
import type { ReplicatedWrites } from "./wait.js";

// Purchases in the shared HA Redis, in OOSE 2.2-final's record shape plus
// their owner (`<prefix>:purchase:<token>`, a HASH). A write is acknowledged
// only once a replica has it (WAIT), so a failover loses none. Update and
// remove are Lua scripts that check the record and its owner, change it and
// announce the change on `<prefix>:purchase:changed` in one atomic step.

export const purchaseChannel = (prefix: string) => `${prefix}:purchase:changed`;

export class RedisPurchases implements PurchaseStore {
  private readonly channel: string;

  constructor(
    private readonly redis: Redis,
    private readonly writes: ReplicatedWrites,
    private readonly prefix: string,
    private readonly channels: Channels,
  ) {
    this.channel = purchaseChannel(prefix);
  }

  get ready(): boolean {
    return this.redis.status === "ready";
  }

  private key(token: string): string {
    return purchaseKey(this.prefix, token);
  }

  async read(token: string): Promise<Purchase | undefined> {
    return fromRedisHash(await redisCall("purchase get", () => this.redis.hgetall(this.key(token))), token);
  }

  async create(purchase: Purchase, ttlMs: number): Promise<boolean> {
    const fields = Object.entries(toRedisHash(purchase)).flat();
    const created = await this.writes.write("purchase create", (conn) =>
      runScript(conn, SCRIPTS.create, [this.key(purchase.token)], [ttlMs, ...fields]),
    );
    return created === 1;
  }

  async update(token: string, actor: Actor, change: PurchaseChange, ttlMs?: number): Promise<Purchase | undefined> {
    const fields = Object.entries(toRedisFields(change)).flat();
    const reply = await this.changed(token, "purchase update", SCRIPTS.update, actor, [ttlMs ?? "", ...fields]);
    return Array.isArray(reply) ? fromRedisHash(pairs(reply as string[]), token) : undefined;
  }

  async remove(token: string, actor: Actor): Promise<number> {
    return Number(await this.changed(token, "purchase remove", SCRIPTS.remove, actor, []));
  }

  onChange(fn: (token: string) => void): void {
    this.channels.on(this.channel, fn);
  }

  onResync(fn: () => void): void {
    this.channels.onResync(fn);
  }

  private changed(token: string, what: string, script: Script, actor: Actor, args: (string | number)[]) {
    const who = [actor.admin ? "1" : "0", actor.name ?? "", this.channel, token];
    return this.writes.write(what, (conn) => runScript(conn, script, [this.key(token)], [...who, ...args]));
  }
}

/** HGETALL's flat reply from a script as an object. */
function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

import type { PurchaseChange, PurchaseStore } from "../../core/ports/purchases.js";
import { type Actor, mayManage, type Purchase } from "../../core/purchase.js";
import { ExpiringMap } from "./expiring.js";

// Purchases in one process's memory, for tests: the same rules as the Redis
// store (owner checks, TTLs, a notice on every change), on an injectable clock.

export class MemoryPurchases implements PurchaseStore {
  readonly ready = true;
  private readonly records: ExpiringMap<Purchase>;
  private readonly changes: ((token: string) => void)[] = [];

  constructor(now: () => number = Date.now) {
    this.records = new ExpiringMap(now);
  }

  async read(token: string): Promise<Purchase | undefined> {
    const p = this.records.get(token);
    return p && { ...p, referrer: [...p.referrer] };
  }

  async create(purchase: Purchase, ttlMs: number): Promise<boolean> {
    if (this.records.has(purchase.token)) return false;
    this.records.set(purchase.token, { ...purchase, referrer: [...purchase.referrer] }, ttlMs);
    return true;
  }

  async update(token: string, actor: Actor, change: PurchaseChange, ttlMs?: number): Promise<Purchase | undefined> {
    const current = this.records.get(token);
    if (!current || !mayManage(current, actor)) return undefined;
    const given = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined));
    if (Object.keys(given).length === 0) return this.read(token);
    this.records.replace(token, { ...current, ...given });
    if (ttlMs !== undefined) this.records.expire(token, ttlMs);
    this.announce(token);
    return this.read(token);
  }

  async remove(token: string, actor: Actor): Promise<number> {
    const current = this.records.get(token);
    if (!current) return 0;
    if (!mayManage(current, actor)) return -1;
    this.records.delete(token);
    this.announce(token);
    return 1;
  }

  onChange(fn: (token: string) => void): void {
    this.changes.push(fn);
  }

  onResync(): void {
    // One process: no notice is ever missed.
  }

  private announce(token: string): void {
    for (const fn of this.changes) fn(token);
  }
}

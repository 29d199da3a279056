import { LRUCache } from "lru-cache";
import type { PurchaseStore } from "../core/ports/purchases.js";
import { type Actor, checkToken, mayManage, mintToken, type Purchase, ttlMs } from "../core/purchase.js";
import { BackendUnavailable, PurchaseNotFound } from "../errors.js";

// Purchases as a prism serves them: the token policy and the prism's copies,
// over the shared PurchaseStore (which owns durability and change notices).
// An entry answers by itself for `cacheLife`; after that it is read again,
// but while the store does not answer (a failover) the entry still serves,
// until the purchase expires.

/** How long a delivery of a known purchase waits for the store before it answers from the prism's copy. */
export const STALE_AFTER_MS = 250;

export interface PurchaseSettings {
  afterlife: number;
  /** How long a prism's copy of a purchase answers without a read; changes are announced at once. */
  cacheLife: number;
  /** How long a read of a known purchase may take before the copy answers (default STALE_AFTER_MS). */
  staleAfterMs?: number;
}

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
    private readonly store: PurchaseStore,
    private readonly s: PurchaseSettings,
    private readonly now: () => number = Date.now,
  ) {
    store.onChange((token) => this.forget(token));
    store.onResync(() => {
      this.trustedSince = this.now();
      this.reading.clear();
    });
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

  /** The purchase as delivery sees it: this prism's copy, else one read. */
  async get(token: string): Promise<Purchase | undefined> {
    const entry = this.cache.get(token);
    const now = this.now();
    if (entry && now - entry.at < this.s.cacheLife && entry.at >= this.trustedSince) return entry.purchase;
    if (!entry) return this.read(token);
    return this.readOrCopy(token, entry);
  }

  /** A known purchase: the store's answer if it comes soon, else (a failover, an outage) the copy. */
  private async readOrCopy(token: string, entry: Entry): Promise<Purchase | undefined> {
    if (!this.store.ready) return entry.purchase;
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
    const pending = this.store
      .read(token)
      .then((found) => {
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

  /** Mints a token and writes the record (never over an existing one). */
  async create(input: Omit<Purchase, "token" | "expirationDate">): Promise<Purchase> {
    const now = this.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      const purchase: Purchase = { ...input, token: mintToken(), expirationDate: now + input.life };
      // A collision of 64 random alphanumerics is not expected; the store refuses one anyway.
      if (!(await this.store.create(purchase, Math.max(ttlMs(purchase.expirationDate, this.s.afterlife, now), 1))))
        continue;
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
    const ttl = expirationDate === undefined ? undefined : Math.max(ttlMs(expirationDate, this.s.afterlife, now), 1);
    const updated = await this.changed(token, () =>
      this.store.update(token, actor, { referrer: change.referrer, life: change.life, expirationDate }, ttl),
    );
    if (!updated) throw new PurchaseNotFound();
    return updated;
  }

  /** Removes a purchase `actor` may manage: 1, or 0 when there is none. */
  async remove(token: string, actor: Actor): Promise<number> {
    checkToken(token);
    const count = await this.changed(token, () => this.store.remove(token, actor));
    if (count < 0) throw new PurchaseNotFound();
    return count;
  }

  private async changed<T>(token: string, change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } finally {
      // Whatever the outcome, this prism's copy may be out of date (the other prisms hear the store's notice).
      this.forget(token);
    }
  }
}

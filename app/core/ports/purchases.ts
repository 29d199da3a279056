import type { Actor, Purchase } from "../purchase.js";

// Where purchases live, shared by every prism (OOSE: Redis). A write resolves
// once it is durable (a replica holds it). Every change, by any prism, is
// announced, so the prisms' copies follow.

/** The fields an update may change; only those given are written. */
export type PurchaseChange = Partial<Pick<Purchase, "referrer" | "life" | "expirationDate">>;

export interface PurchaseStore {
  /** False while the store is known to be unreachable: a prism's copy then answers without asking. */
  readonly ready: boolean;
  read(token: string): Promise<Purchase | undefined>;
  /** Writes a new record, kept for `ttlMs`; false (nothing written) when the token is taken. */
  create(purchase: Purchase, ttlMs: number): Promise<boolean>;
  /**
   * Writes `change` (and the new `ttlMs`, if given) when the record exists and `actor` may manage it, in one
   * step; the record as it now is, or undefined when it is absent or not theirs.
   */
  update(token: string, actor: Actor, change: PurchaseChange, ttlMs?: number): Promise<Purchase | undefined>;
  /** 1 removed, 0 absent, -1 not `actor`'s to remove. */
  remove(token: string, actor: Actor): Promise<number>;
  /** Called with the token of every purchase changed or removed anywhere. */
  onChange(fn: (token: string) => void): void;
  /** Called when announcements may have been missed (a reconnect): what was learnt before must be read again. */
  onResync(fn: () => void): void;
}

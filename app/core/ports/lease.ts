// A lock with a lease: one holder at a time cluster-wide, and a holder that
// dies frees it when the lease runs out. Renew and release only act while the
// lease still names this holder.

export interface Lease {
  readonly key: string;
  readonly owner: string;
  /** Takes the lease if it is free (or already ours, which renews it). */
  acquire(): Promise<boolean>;
  /** Extends the lease; false when it is no longer ours (it expired and someone else took it). */
  renew(): Promise<boolean>;
  /** Frees the lease if it is still ours. */
  release(): Promise<void>;
}

/** Makes leases: `key` is the full key (prefix included), each take or renewal lasts `ttlMs`. */
export interface Leases {
  lease(key: string, owner: string, ttlMs: number): Lease;
}

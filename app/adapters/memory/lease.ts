import type { Lease, Leases } from "../../core/ports/lease.js";

// Leases in one process's memory, for tests and single-process tools: the
// same exclusivity and expiry as the Redis ones, on an injectable clock.

interface Held {
  owner: string;
  until: number;
}

export class MemoryLeases implements Leases {
  private readonly held = new Map<string, Held>();

  constructor(private readonly now: () => number = Date.now) {}

  lease(key: string, owner: string, ttlMs: number): Lease {
    const current = () => {
      const h = this.held.get(key);
      if (h && h.until <= this.now()) this.held.delete(key);
      return this.held.get(key);
    };
    const renew = async () => {
      if (current()?.owner !== owner) return false;
      this.held.set(key, { owner, until: this.now() + ttlMs });
      return true;
    };
    return {
      key,
      owner,
      acquire: async () => {
        if (current()) return renew();
        this.held.set(key, { owner, until: this.now() + ttlMs });
        return true;
      },
      renew,
      release: async () => {
        if (current()?.owner === owner) this.held.delete(key);
      },
    };
  }
}

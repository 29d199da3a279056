import type { PeerTable } from "../adapters/couch/peers.js";
import type { Candidate, Holder } from "../core/placement.js";
import type { Peer } from "../core/peer.js";

// The prism's view of the stores it can write to: live peers from the table,
// plus the transfers this prism has in flight to each (its share of their load).

export class StorePool {
  private readonly inflight = new Map<string, number>();

  constructor(private readonly peers: PeerTable) {}

  /** Live, writable stores as placement candidates. */
  candidates(): Candidate[] {
    return this.peers
      .liveStores()
      .filter((p) => p.writable)
      .map((p) => ({ ...holderOf(p), free: p.capacity?.free, load: this.inflight.get(p.name) ?? 0 }));
  }

  peer(name: string): Peer | undefined {
    return this.peers.store(name);
  }

  /** Counts a transfer against a store until the returned function is called. */
  begin(name: string): () => void {
    this.inflight.set(name, (this.inflight.get(name) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inflight.set(name, (this.inflight.get(name) ?? 1) - 1);
    };
  }

  load(name: string): number {
    return this.inflight.get(name) ?? 0;
  }
}

export function holderOf(p: Peer): Holder {
  return { name: p.name, prism: p.prism ?? "", zone: p.location.zone, host: p.location.host };
}

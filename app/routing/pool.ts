import type { PeerView } from "../core/ports/peers.js";
import { StoreHealth } from "./health.js";
import { StoreClient } from "../client/store.js";
import { type Candidate, DEFAULT_WEIGHTS, type Holder, type PlacementWeights, rankStores } from "../core/placement.js";
import type { Peer } from "../core/peer.js";
import type { Credentials } from "../config.js";

// The prism's view of the stores: live peers from the table, a client per
// store, and the transfers this prism has in flight to each (its share of
// their load, which placement and reads balance on). Stores this prism has
// just seen fail (see StoreHealth) are left out of placement and read last.

export class StorePool {
  private readonly inflight = new Map<string, number>();
  private readonly clients = new Map<string, StoreClient>();

  constructor(
    private readonly peers: Pick<PeerView, "liveStores" | "store">,
    private readonly auth: Credentials,
    private readonly timeoutMs: number,
    readonly health: StoreHealth = new StoreHealth(),
    private readonly weights: PlacementWeights = DEFAULT_WEIGHTS,
  ) {}

  /** Placement's order of `candidates` for `count` new copies beside `holders`, with this cluster's weights. */
  rank(candidates: Candidate[], count: number, holders: Holder[] = []): Candidate[] {
    return rankStores(candidates, count, holders, this.weights);
  }

  /** Live, writable stores as placement candidates; none this prism currently suspects, unless asked. */
  candidates(withSuspects = false): Candidate[] {
    return this.peers
      .liveStores()
      .filter((p) => p.writable && (withSuspects || !this.health.isSuspect(p.name)))
      .map((p) => ({ ...holderOf(p), free: p.capacity?.free, load: this.inflight.get(p.name) ?? 0 }));
  }

  peer(name: string): Peer | undefined {
    return this.peers.store(name);
  }

  client(peer: Peer): StoreClient {
    const known = this.clients.get(peer.name);
    if (known && known.baseUrl === peer.url) return known;
    const client = new StoreClient({ baseUrl: peer.url, auth: this.auth, timeoutMs: this.timeoutMs, name: peer.name });
    this.clients.set(peer.name, client);
    return client;
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

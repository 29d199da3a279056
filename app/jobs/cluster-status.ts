import type { ClusterStatus, InventorySummary, StoreStatus } from "../contracts/console.js";
import { isCurrent, majority } from "../core/heartbeat.js";
import { parseCopyId } from "../core/inventory.js";
import { isLive, type Peer } from "../core/peer.js";
import type { HotCounts } from "../core/ports/hot.js";
import type { JobState } from "../core/ports/job-state.js";
import type { Votes } from "../core/ports/votes.js";
import { type HealStatus, healKeys } from "./heal.js";
import { windowBuckets } from "./hot-counter.js";
import { type ScrubStatus, scrubKey } from "./scrub.js";

// The cluster at a glance, over the ports: peers and their availability, the
// heartbeat's current down-votes, each store's disk, the heal and scrub jobs'
// progress and the hot content; and, from a pass over the inventory, copies
// per store and how many files are short. `oose status` and the console's
// cluster view both read it here.

export interface StatusSources {
  /** The peers: the directory for a tool, the peer table on a prism. */
  peers(): Promise<Peer[]>;
  votes: Pick<Votes, "all">;
  /** Missing without Redis (a tool given only CouchDB). */
  state?: Pick<JobState, "readMany">;
  hot?: Pick<HotCounts, "rates" | "hotUntil" | "extras">;
  prefix: string;
  replicas: number;
  voteLife: number;
  hotWindow: { window: number; threshold: number };
  /** Hot hashes listed. */
  top: number;
}

/** One inventory doc as a pass reads it: its id, and its size when the pass reads docs. */
export interface CopyRow {
  id: string;
  size?: number;
}

/** What a pass over the inventory found: the summary, and each store's copies and bytes. */
export interface InventoryPass {
  summary: InventorySummary;
  stores: Map<string, { copies: number; bytes: number }>;
  /** Whether the rows carry sizes (a pass over ids alone knows no bytes). */
  sized: boolean;
}

function storeStatus(p: Peer): StoreStatus {
  return {
    name: p.name,
    prism: p.prism ?? "",
    zone: p.location.zone,
    host: p.location.host,
    live: isLive(p),
    available: p.available,
    active: p.active,
    writable: p.writable,
    disk: p.capacity ? { ...p.capacity, used: p.capacity.total - p.capacity.free } : null,
  };
}

async function voteStatus(votes: StatusSources["votes"], peers: Peer[], voteLife: number) {
  const now = Date.now();
  const current = (await votes.all()).filter((v) => isCurrent(v, now, voteLife));
  const active = peers.filter((p) => p.active);
  const byPeer = new Map<string, Set<string>>();
  for (const v of current) byPeer.set(v.castee, (byPeer.get(v.castee) ?? new Set()).add(v.caster));
  return {
    votes: current.map((v) => ({
      castee: v.castee,
      caster: v.caster,
      castAt: new Date(v.castAt).toISOString(),
      reason: v.reason,
    })),
    downVotes: [...byPeer].map(([peer, casters]) => ({
      peer,
      votes: casters.size,
      needed: majority(active.filter((p) => p.key !== peer).length),
    })),
  };
}

/** One pass over every copy id: ids of a hash are adjacent (they share the `<hash>:` prefix). */
export async function inventoryPass(
  pages: AsyncIterable<CopyRow[]>,
  peers: Peer[],
  replicas: number,
  o: { sized: boolean; onPage?: (copies: number) => void },
): Promise<InventoryPass> {
  const liveStores = new Map(peers.filter((p) => p.type === "store").map((p) => [p.name, isLive(p)]));
  const stores = new Map([...liveStores.keys()].map((name) => [name, { copies: 0, bytes: 0 }]));
  const at = new Date().toISOString();
  const out = { at, hashes: 0, copies: 0, underReplicated: 0, unavailable: 0, overReplicated: 0, unknownStores: 0 };
  let hash: string | undefined;
  let live = 0;
  const close = () => {
    if (hash === undefined) return;
    out.hashes++;
    if (live === 0) out.unavailable++;
    else if (live < replicas) out.underReplicated++;
    else if (live > replicas) out.overReplicated++;
  };
  for await (const page of pages) {
    for (const row of page) {
      const id = parseCopyId(row.id);
      if (!id) continue;
      if (id.hash !== hash) {
        close();
        hash = id.hash;
        live = 0;
      }
      out.copies++;
      const store = stores.get(id.store);
      if (!store) {
        out.unknownStores++;
        continue;
      }
      store.copies++;
      store.bytes += row.size ?? 0;
      if (liveStores.get(id.store)) live++;
    }
    o.onPage?.(out.copies);
  }
  close();
  return { summary: out, stores, sized: o.sized };
}

async function jobStatus(s: StatusSources, stores: StoreStatus[]): Promise<Pick<ClusterStatus, "heal" | "scrub">> {
  if (!s.state) return {};
  const [heal, ...scrub] = await s.state.readMany<unknown>([
    healKeys(s.prefix).status,
    ...stores.map((st) => scrubKey(s.prefix, st.name)),
  ]);
  // The jobs' own types, checked against the wire's here.
  return {
    heal: (heal as HealStatus | undefined) ?? null,
    scrub: stores.map((st, i) => ({ store: st.name, status: (scrub[i] as ScrubStatus | undefined) ?? null })),
  };
}

async function hotStatus(s: StatusSources): Promise<ClusterStatus["hot"]> {
  if (!s.hot) return undefined;
  const hot = s.hot;
  const { window, threshold } = s.hotWindow;
  const rates = await hot.rates(windowBuckets(Date.now(), window), { min: 1, limit: s.top });
  const active = await hot.hotUntil(Number.MAX_SAFE_INTEGER);
  const extra = await Promise.all(active.map(async (hash) => ({ hash, stores: await hot.extras(hash) })));
  return { window, threshold, top: rates.map(([hash, deliveries]) => ({ hash, deliveries })), extra };
}

/**
 * The cluster's status; with `inventory`, copies per store and the files short of copies from a pass over
 * the inventory (given the peers, it may be a pass made earlier). Redis parts a failure leaves out.
 */
export async function clusterStatus(
  s: StatusSources,
  inventory?: (peers: Peer[]) => Promise<InventoryPass>,
): Promise<ClusterStatus> {
  const peers = await s.peers();
  const stores = peers
    .filter((p) => p.type === "store")
    .map(storeStatus)
    .sort((a, b) => a.name.localeCompare(b.name));
  const prisms = peers
    .filter((p) => p.type === "prism")
    .map((p) => ({
      ...{ name: p.name, zone: p.location.zone, host: p.location.host, url: p.url },
      ...{ available: p.available, active: p.active },
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const status: ClusterStatus = {
    at: new Date().toISOString(),
    replicas: s.replicas,
    prisms,
    stores,
    ...(await voteStatus(s.votes, peers, s.voteLife)),
  };
  if (inventory) {
    const pass = await inventory(peers);
    status.inventory = pass.summary;
    for (const st of stores) {
      const { copies, bytes } = pass.stores.get(st.name) ?? { copies: 0, bytes: 0 };
      Object.assign(st, pass.sized ? { copies, bytes } : { copies });
    }
  }
  Object.assign(status, await jobStatus(s, stores).catch(() => ({})));
  status.hot = await hotStatus(s).catch(() => undefined);
  return status;
}

/**
 * An inventory pass for a view polled every few seconds: one pass at a time, its result reused for
 * `maxAgeMs`, then refreshed in the background while the last one is still answered.
 */
export function cachedPass(
  run: (peers: Peer[]) => Promise<InventoryPass>,
  maxAgeMs: number,
  now: () => number = Date.now,
): (peers: Peer[]) => Promise<InventoryPass> {
  let last: { pass: InventoryPass; at: number } | undefined;
  let running: Promise<InventoryPass> | undefined;
  const refresh = (peers: Peer[]) => {
    running ??= run(peers)
      .then((pass) => {
        last = { pass, at: now() };
        return pass;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return async (peers) => {
    if (!last) return refresh(peers);
    if (now() - last.at > maxAgeMs) refresh(peers).catch(() => undefined);
    return last.pass;
  };
}

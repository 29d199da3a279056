import type { Config } from "../config.js";
import type { ClusterStatus } from "../contracts/console.js";
import type { PeerView } from "../core/ports/peers.js";
import { cachedPass, clusterStatus, inventoryPass } from "../jobs/cluster-status.js";
import type { Backends } from "./backends.js";

// The console's cluster view on a prism: the gatherer `oose status` uses, over
// this prism's ports, with liveness as its peer table has it. The inventory
// pass (ids only: a copy's size needs its doc) is shared by every poll and
// renewed at most once a minute, so a console left open costs the inventory
// one pass a minute, not one per poll.

const INVENTORY_EVERY_MS = 60_000;
const PAGE_SIZE = 5000;
const HOT_LISTED = 10;

export function consoleStatus(config: Config, b: Backends, peers: PeerView): () => Promise<ClusterStatus> {
  const rows = async function* () {
    for await (const ids of b.inventory.idPages({ pageSize: PAGE_SIZE })) yield ids.map((id) => ({ id }));
  };
  const inventory = cachedPass(
    (all) => inventoryPass(rows(), all, config.replicas, { sized: false }),
    INVENTORY_EVERY_MS,
  );
  const sources = {
    peers: async () => peers.all(),
    ...{ votes: b.votes, state: b.state, hot: b.hot, prefix: config.redis.prefix },
    ...{ replicas: config.replicas, voteLife: config.heartbeat.voteLife, hotWindow: config.hot, top: HOT_LISTED },
  };
  return () => clusterStatus(sources, inventory);
}

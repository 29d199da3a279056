import { type PeerTable, registerSelf, setAvailable } from "../adapters/couch/peers.js";
import type { NodeDeps } from "../http/node.js";
import { Heartbeat, type HeartbeatDeps } from "./heartbeat.js";

/** Joins the cluster: registers this node, loads the peer table, starts the heartbeat. Returns the way out. */
export async function joinCluster(
  deps: NodeDeps,
  peers: PeerTable,
  hooks: Pick<HeartbeatDeps, "onPing"> = {},
): Promise<() => Promise<void>> {
  const self = await registerSelf(deps.couch, deps.config);
  await peers.start();
  // One heartbeat per node, not per worker process.
  const lead = deps.config.worker === 1;
  const heartbeat = deps.config.heartbeat.enabled && lead
    ? new Heartbeat({
        couch: deps.couch,
        peers,
        self,
        settings: deps.config.heartbeat,
        log: deps.log.child({ job: "heartbeat" }),
        ...hooks,
      })
    : undefined;
  await heartbeat?.start();
  return async () => {
    await heartbeat?.stop();
    peers.stop();
    if (!lead) return;
    await setAvailable(deps.couch, self, false).catch((err) => deps.log.warn({ err: err.message }, "could not step down"));
  };
}

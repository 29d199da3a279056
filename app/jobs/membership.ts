import type { Config } from "../config.js";
import type { PeerDirectory, PeerView } from "../core/ports/peers.js";
import type { Votes } from "../core/ports/votes.js";
import type { Logger } from "../log.js";
import { Heartbeat, type HeartbeatDeps } from "./heartbeat.js";

export interface MembershipDeps {
  config: Config;
  directory: PeerDirectory;
  votes: Votes;
  log: Logger;
}

/** Joins the cluster: registers this node, loads the peer table, starts the heartbeat. Returns the way out. */
export async function joinCluster(
  deps: MembershipDeps,
  peers: PeerView,
  hooks: Pick<HeartbeatDeps, "onPing"> = {},
): Promise<() => Promise<void>> {
  const self = await deps.directory.registerSelf(deps.config);
  await peers.start();
  // One heartbeat per node, not per worker process.
  const lead = deps.config.worker === 1;
  const heartbeat =
    deps.config.heartbeat.enabled && lead
      ? new Heartbeat({
          votes: deps.votes,
          directory: deps.directory,
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
    await deps.directory
      .setAvailable(self, false)
      .catch((err) => deps.log.warn({ err: err.message }, "could not step down"));
  };
}

import { BlobStore } from "../adapters/disk/index.js";
import type { Config } from "../config.js";
import { PeerTable } from "../core/peer-table.js";
import type { Blobs } from "../core/ports/blobs.js";
import { DiskHealthWriter } from "../jobs/disk-health.js";
import { joinCluster } from "../jobs/membership.js";
import { Scrub } from "../jobs/scrub.js";
import type { Logger } from "../log.js";
import type { RoleNode } from "../node.js";
import { buildStore } from "../store/index.js";
import { type Backends, nodeBackends } from "./backends.js";

// A store node: its app, and beside it the jobs (heartbeat, disk-health file,
// scrub), over one Backends bundle and one disk.

export async function composeStore(
  config: Config,
  log: Logger,
  b: Backends,
  blobs: Blobs = new BlobStore(config.dataRoot),
): Promise<RoleNode> {
  const store = await buildStore({
    ...{ config, log, node: nodeBackends(config, log, b) },
    ...{ inventory: b.inventory, directory: b.peers, notices: b.notices, blobs },
  });
  b.onInventoryWrite?.((docs) => {
    store.app.counters.inc("stat:store:inventory:writes");
    store.app.counters.inc("stat:store:inventory:docs", docs);
  });
  // The file the prisms' probe reads through this store's nginx: proof that the disk reads and takes writes.
  const diskHealth = new DiskHealthWriter({
    ...{ dataRoot: config.dataRoot, interval: config.probe.diskWrite },
    log: log.child({ job: "disk-health" }),
  });
  const scrub = config.scrub.enabled
    ? new Scrub({
        config,
        inventory: b.inventory,
        state: b.state,
        content: store.content,
        log: log.child({ job: "scrub" }),
      })
    : undefined;
  const peers = new PeerTable(b.peers, config.heartbeat.peerRefresh, log);
  let leave: (() => Promise<void>) | undefined;
  return {
    app: store.app,
    async start() {
      diskHealth.start();
      // Joining registers as available (keeping an operator's active: false) and runs the heartbeat.
      leave = await joinCluster({ config, directory: b.peers, votes: b.votes, log }, peers);
      await store.start();
      scrub?.start();
    },
    async stop() {
      await scrub?.stop();
      await store.stop();
      await leave?.();
      diskHealth.stop();
    },
  };
}

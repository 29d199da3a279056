import { StoreHealth } from "../routing/health.js";
import { StorePool } from "../routing/pool.js";
import type { Config } from "../config.js";
import { CopyGate } from "../core/copy-gate.js";
import { HashLocks } from "../core/hash-locks.js";
import { PeerTable } from "../core/peer-table.js";
import { Copies } from "../routing/copies.js";
import { Heal } from "../jobs/heal.js";
import { hotContent } from "../jobs/hot.js";
import { joinCluster } from "../jobs/membership.js";
import { StoreProbe } from "../jobs/probe.js";
import { Removal, Takedown } from "../jobs/removal.js";
import { Repair } from "../jobs/repair.js";
import type { Logger } from "../log.js";
import { dataSafetySource } from "../metrics/index.js";
import { readDataSafety } from "../metrics/safety.js";
import type { RoleNode } from "../node.js";
import { buildPrism } from "../prism/index.js";
import { type Backends, nodeBackends } from "./backends.js";
import { consoleStatus } from "./console.js";

// A prism node: its app, and beside it the routing state (peer table, what it
// sees of each store) and the jobs (heartbeat, probe, repair, heal, hot
// content), all over the ports of one Backends bundle.

export async function composePrism(config: Config, log: Logger, b: Backends): Promise<RoleNode> {
  const { prefix } = config.redis;
  const peers = new PeerTable(b.peers, config.heartbeat.peerRefresh, log);
  // What this prism sees of each store, ahead of the heartbeat's votes: requests route around a silent store at once.
  const health = new StoreHealth({
    log: log.child({ part: "health" }),
    connectTimeoutMs: config.probe.watchConnectTimeout,
  });
  peers.onChange((all) => health.track(all.filter((p) => p.type === "store" && p.active)));
  // Every worker routes, so every worker probes (the heartbeat runs in the first only).
  const probe = config.probe.enabled
    ? new StoreProbe({ stores: () => peers.stores().filter((p) => p.active), health, settings: config.probe })
    : undefined;
  const pool = new StorePool(peers, config.auth.store, config.limits.requestTimeoutMs, health, config.placement);
  const copies = new Copies(b.inventory, pool);
  const locks = new HashLocks(b.leases, prefix, config.name);
  // The jobs' copies pass the gate: a hash taken down is not copied back.
  const jobCopies = new Copies(b.inventory, pool, undefined, new CopyGate(b.owners, locks));
  const removal = new Removal({ copies, pool, locks, log: log.child({ part: "removal" }) });
  const takedown = new Takedown({ copies, pool, locks, log: log.child({ part: "takedown" }) });
  // Extra copies for content delivered often (config hot), removed again once it cools.
  const hot = hotContent({
    ...{ counts: b.hot, leases: b.leases, copies: jobCopies, removal, pool, log, name: config.name, prefix },
    settings: config.hot,
    replicas: config.replicas,
  });
  const counter = hot.counter;
  const prism = await buildPrism({
    ...{ config, log, node: nodeBackends(config, log, b) },
    ...{ peers, inventory: b.inventory, notices: b.notices, purchases: b.purchases, sessions: b.sessions },
    ...{ users: b.users, attempts: b.attempts, pool, copies, owners: b.owners, takedown },
    clusterStatus: consoleStatus(config, b, peers),
    onDelivered: counter && ((hash, store) => counter.record(hash, store)),
  });
  // Whoever runs the heal, every prism reports what its last pass found.
  dataSafetySource.read = () => readDataSafety(b.state, prefix);

  const jobDeps = { inventory: b.inventory, state: b.state, leases: b.leases, peers, copies: jobCopies, config };
  const repair = config.repair.enabled
    ? new Repair({ ...jobDeps, pool, removal, log: log.child({ job: "repair" }) })
    : undefined;
  const heal = config.heal.enabled ? new Heal({ ...jobDeps, log: log.child({ job: "heal" }) }) : undefined;
  const onPing = (peer: { type: string; name: string }, ok: boolean) => {
    if (peer.type !== "store") return;
    if (ok) health.answered(peer.name);
    else health.failed(peer.name, "ping");
  };

  // Loaded before the app listens: a worker that took requests with an empty table would find no file anywhere.
  await peers.start();
  let leave: (() => Promise<void>) | undefined;
  return {
    app: prism.app,
    async start() {
      await b.start();
      leave = await joinCluster({ config, directory: b.peers, votes: b.votes, log }, peers, { onPing });
      probe?.start();
      repair?.start();
      heal?.start();
      hot.start();
    },
    async stop() {
      await hot.stop();
      await repair?.stop();
      await heal?.stop();
      await probe?.stop();
      await leave?.();
      health.stop();
      await prism.close();
    },
  };
}

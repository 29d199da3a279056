import type { Config } from "../config.js";
import type { NodeBackends } from "../http/node.js";
import type { Logger } from "../log.js";
import type { AttemptCounters } from "../core/ports/attempts.js";
import type { HotCounts } from "../core/ports/hot.js";
import type { Inventory } from "../core/ports/inventory.js";
import type { JobState } from "../core/ports/job-state.js";
import type { Leases } from "../core/ports/lease.js";
import type { Notices } from "../core/ports/notices.js";
import type { Owners } from "../core/ports/owners.js";
import type { PeerDirectory } from "../core/ports/peers.js";
import type { PurchaseStore } from "../core/ports/purchases.js";
import type { SessionStore } from "../core/ports/sessions.js";
import type { HealthChecks, Tallies } from "../core/ports/tallies.js";
import type { UserDirectory } from "../core/ports/users.js";
import type { Votes } from "../core/ports/votes.js";

// Every port a node's roles and jobs use, as one bundle: CouchDB and Redis in
// production (./drivers.ts), memory in the in-process tests
// (app/adapters/memory). The composition takes a bundle and never knows which.

export interface Backends {
  inventory: Inventory;
  /** Told how many docs each inventory write carried (the store's /stats), where the inventory batches. */
  onInventoryWrite?(fn: (docs: number) => void): void;
  /** Who uploaded what, and the takedown marks. */
  owners: Owners;
  peers: PeerDirectory;
  votes: Votes;
  users: UserDirectory;
  purchases: PurchaseStore;
  sessions: SessionStore;
  attempts: AttemptCounters;
  hot: HotCounts;
  leases: Leases;
  state: JobState;
  notices: Notices;
  /** Where one node's request counters go (`<prefix>:counter:<role>:<name>`). */
  tallies(role: Config["role"], name: string): Tallies;
  checks: HealthChecks;
  /** After the node listens: subscribe to notices. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** What a node's app takes of the bundle: its health checks and its own tallies. */
export function nodeBackends(config: Config, log: Logger, b: Backends): NodeBackends {
  return { config, log, checks: b.checks, tallies: b.tallies(config.role, config.name) };
}

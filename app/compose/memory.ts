import { MemoryAttempts } from "../adapters/memory/attempts.js";
import { MemoryHotCounts } from "../adapters/memory/hot-counts.js";
import { MemoryInventory } from "../adapters/memory/inventory.js";
import { MemoryJobState } from "../adapters/memory/job-state.js";
import { MemoryLeases } from "../adapters/memory/lease.js";
import { MemoryNotices } from "../adapters/memory/notices.js";
import { MemoryOwners } from "../adapters/memory/owners.js";
import { MemoryPeers } from "../adapters/memory/peers.js";
import { MemoryPurchases } from "../adapters/memory/purchases.js";
import { MemorySessions } from "../adapters/memory/sessions.js";
import { MemoryTallies } from "../adapters/memory/tallies.js";
import { MemoryUsers } from "../adapters/memory/users.js";
import { MemoryVotes } from "../adapters/memory/votes.js";
import type { Backends } from "./backends.js";

/**
 * One cluster's shared state in this process's memory: give the same bundle
 * to every node composed in-process and they see one inventory, one peer
 * directory, one purchase store. For tests; nothing survives the process.
 */
export function memoryBackends(now: () => number = Date.now): Backends {
  const tallies = new Map<string, MemoryTallies>();
  return {
    inventory: new MemoryInventory(),
    owners: new MemoryOwners(),
    peers: new MemoryPeers(),
    votes: new MemoryVotes(),
    users: new MemoryUsers(),
    purchases: new MemoryPurchases(now),
    sessions: new MemorySessions(now),
    attempts: new MemoryAttempts(now),
    hot: new MemoryHotCounts(now),
    leases: new MemoryLeases(now),
    state: new MemoryJobState(),
    notices: new MemoryNotices(),
    tallies(role, name) {
      const key = `${role}:${name}`;
      if (!tallies.has(key)) tallies.set(key, new MemoryTallies());
      return tallies.get(key)!;
    },
    checks: { couchdb: async () => true, redis: async () => true },
    async start() {},
    async close() {},
  };
}

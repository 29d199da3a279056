import { openCouch } from "../adapters/couch/index.js";
import { CouchInventory } from "../adapters/couch/inventory.js";
import { CouchOwners } from "../adapters/couch/owners.js";
import { CouchPeers } from "../adapters/couch/peers.js";
import { CouchUsers } from "../adapters/couch/users.js";
import { CouchVotes } from "../adapters/couch/votes.js";
import { RedisAttempts } from "../adapters/redis/attempts.js";
import { Channels } from "../adapters/redis/channels.js";
import { RedisHotCounts } from "../adapters/redis/hot-counts.js";
import { openRedis } from "../adapters/redis/index.js";
import { RedisJobState } from "../adapters/redis/job-state.js";
import { redisLeases } from "../adapters/redis/lease.js";
import { RedisPurchases } from "../adapters/redis/purchases.js";
import { RedisSessions } from "../adapters/redis/sessions.js";
import { RedisTallies } from "../adapters/redis/tallies.js";
import { ReplicatedWrites } from "../adapters/redis/wait.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { Backends } from "./backends.js";

// The production bundle: CouchDB through nano, the HA Redis through ioredis.
// Connections a node may not need (the WAIT connection, the subscriber) are
// made on first use, so a store opens only what it uses.

export function openBackends(config: Config, log: Logger): Backends {
  const couch = openCouch(config.couchdb);
  const redis = openRedis(config.redis, log);
  const { prefix } = config.redis;
  const inventory = new CouchInventory(couch, config.couchdb.batch);
  const { maxDocs, maxQueue, windowMs } = config.couchdb.batch;
  const channels = new Channels(redis, log);
  let writes: ReplicatedWrites | undefined;
  // Logins and purchases are acknowledged once a replica holds them.
  const replicated = () => {
    writes ??= new ReplicatedWrites(redis, config.purchase.waitReplicas, config.purchase.waitTimeoutMs);
    return writes;
  };
  let purchases: RedisPurchases | undefined;
  let sessions: RedisSessions | undefined;
  let started = false;
  return {
    inventory,
    onInventoryWrite: (fn) => inventory.writer.observe(fn),
    owners: new CouchOwners(couch, { maxBatch: maxDocs, maxQueue, windowMs }),
    peers: new CouchPeers(couch),
    votes: new CouchVotes(couch),
    users: new CouchUsers(couch, config.couchdb),
    get purchases() {
      purchases ??= new RedisPurchases(redis, replicated(), prefix, channels);
      return purchases;
    },
    get sessions() {
      sessions ??= new RedisSessions(redis, prefix, replicated());
      return sessions;
    },
    attempts: new RedisAttempts(redis),
    hot: new RedisHotCounts(redis, prefix),
    leases: redisLeases(redis),
    state: new RedisJobState(redis),
    notices: channels,
    tallies: (role, name) => new RedisTallies(redis, `${prefix}:counter:${role}:${name}`),
    checks: {
      couchdb: () => couch.server.request({ path: "_up" }),
      redis: () => redis.ping(),
    },
    async start() {
      started = true;
      await channels.start();
    },
    async close() {
      if (started) channels.stop();
      await writes?.close();
      redis.disconnect();
      await couch.close();
    },
  };
}

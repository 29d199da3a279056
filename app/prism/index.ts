import { CouchInventory } from "../adapters/couch/inventory.js";
import { CouchPeers } from "../adapters/couch/peers.js";
import { CouchVotes } from "../adapters/couch/votes.js";
import { RedisJobState } from "../adapters/redis/job-state.js";
import { redisLeases } from "../adapters/redis/lease.js";
import { PeerTable } from "../core/peer-table.js";
import { useBasicAuth } from "../http/auth.js";
import { createNodeApp, type RawRoute } from "../http/node.js";
import { metricsRoute } from "../metrics/http.js";
import { dataSafetySource } from "../metrics/index.js";
import { readDataSafety } from "../metrics/safety.js";
import { Copies } from "../jobs/copies.js";
import { Removal } from "../jobs/removal.js";
import { HashLocks } from "../adapters/redis/hash-lock.js";
import { joinCluster } from "../jobs/membership.js";
import type { BuildRole } from "../node.js";
import type { PrismContext } from "./context.js";
import { Channels } from "../adapters/redis/channels.js";
import { ReplicatedWrites } from "../adapters/redis/wait.js";
import { Existence } from "./existence.js";
import { Placer } from "./place.js";
import { Retriever } from "./retrieve.js";
import { cacheRoutes } from "./routes/cache.js";
import { contentRoutes } from "./routes/content.js";
import { deliverRoutes, fastDeliver } from "./routes/deliver.js";
import { Delivery } from "./delivery.js";
import { purchaseRoutes } from "./routes/purchase.js";
import { putRoutes } from "./routes/put.js";
import { sessionGuard, userRoutes } from "./routes/user.js";
import { Purchases } from "./purchases.js";
import { Sessions } from "./sessions.js";
import { retrieveRoutes, uploadRoutes } from "./routes/upload.js";
import { StorePool } from "../client/pool.js";
import { StoreHealth } from "../client/health.js";
import { Repair } from "../jobs/repair.js";
import { Heal } from "../jobs/heal.js";
import { hotContent } from "../jobs/hot.js";
import { StoreProbe } from "../jobs/probe.js";

export const build: BuildRole = async (deps) => {
  const { config, couch, redis, log } = deps;
  const rawRoutes: RawRoute[] = [];
  const app = createNodeApp(deps, { rawRoutes });
  const inventory = new CouchInventory(couch);
  const directory = new CouchPeers(couch);
  const votes = new CouchVotes(couch);
  const state = new RedisJobState(redis);
  const leases = redisLeases(redis);
  const peers = new PeerTable(directory, config.heartbeat.peerRefresh, log);
  const channels = new Channels(redis, log);
  const existence = new Existence(inventory, peers, channels, config.redis.prefix, config.existsCacheLife);
  // What this prism sees of each store, ahead of the heartbeat's votes: requests route around a silent store at once.
  const health = new StoreHealth({ log: log.child({ part: "health" }) });
  peers.onChange((all) => health.track(all.filter((p) => p.type === "store" && p.active)));
  // Every worker routes, so every worker probes (the heartbeat runs in the first only).
  const probe = config.probe.enabled
    ? new StoreProbe({ stores: () => peers.stores().filter((p) => p.active), health, settings: config.probe })
    : undefined;
  const pool = new StorePool(peers, config.auth.store, config.limits.requestTimeoutMs, health);
  const copies = new Copies(inventory, pool);
  const locks = new HashLocks(redis, config.redis.prefix, config.name);
  const removal = new Removal({ copies, pool, locks, log: log.child({ part: "removal" }) });
  // Extra copies for content delivered often (config hot), removed again once it cools.
  const hot = hotContent({
    ...{ redis, copies, removal, pool, log, name: config.name, prefix: config.redis.prefix },
    settings: config.hot,
    replicas: config.replicas,
  });
  const placer = new Placer(pool, copies, existence, config.replicas, log, {
    stallMs: config.limits.failoverTimeoutMs,
    clientIdleMs: config.limits.clientIdleMs,
    maxBytes: config.limits.uploadMaxBytes,
    checkMs: config.limits.failoverTimeoutMs,
  });
  const retriever = new Retriever(config.retrieve);
  const privateAuth = await useBasicAuth(app, config.auth.prism);
  // Logins and purchases are acknowledged once a replica holds them.
  const writes = new ReplicatedWrites(redis, config.purchase.waitReplicas, config.purchase.waitTimeoutMs);
  const sessions = new Sessions(couch, redis, writes, config.redis.prefix, config.session.life);
  const purchases = new Purchases(redis, writes, { prefix: config.redis.prefix, ...config.purchase }, channels);
  const session = sessionGuard(sessions, privateAuth);
  metricsRoute(app, privateAuth);
  // Whoever runs the heal, every prism reports what its last pass found.
  dataSafetySource.read = () => readDataSafety(state, config.redis.prefix);
  const ctx: PrismContext = { ...deps, app, peers, existence, pool, placer, privateAuth, session };

  await uploadRoutes(ctx);
  await retrieveRoutes(ctx, retriever);
  await contentRoutes(ctx);
  await putRoutes(ctx);
  await cacheRoutes(ctx);
  await userRoutes(ctx, sessions);
  await purchaseRoutes(ctx, purchases);
  const delivery = new Delivery({
    ...{ purchases, existence, pool, counters: app.counters, hot: hot.counter },
    ...{ domain: config.domain, signingKey: config.signingKey, signedUrlLife: config.purchase.signedUrlLife },
    ...{ log: log.child({ part: "deliver" }), logSample: config.deliveryLog.sample },
  });
  deliverRoutes(ctx, delivery);
  rawRoutes.push(fastDeliver(delivery, ctx));

  const repair = config.repair.enabled
    ? new Repair({ inventory, state, leases, peers, pool, copies, removal, config, log: log.child({ job: "repair" }) })
    : undefined;
  const heal = config.heal.enabled
    ? new Heal({ inventory, state, leases, peers, copies, config, log: log.child({ job: "heal" }) })
    : undefined;
  const onPing = (peer: { type: string; name: string }, ok: boolean) => {
    if (peer.type !== "store") return;
    if (ok) health.answered(peer.name);
    else health.failed(peer.name, "ping");
  };

  // Loaded before the app listens: a worker that took requests with an empty table would find no file anywhere.
  await peers.start();
  let leave: (() => Promise<void>) | undefined;
  return {
    app,
    async start() {
      await channels.start();
      leave = await joinCluster({ config, directory, votes, log }, peers, { onPing });
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
      channels.stop();
      await writes.close();
      await retriever.close();
    },
  };
};

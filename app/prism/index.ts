import { PeerTable } from "../adapters/couch/peers.js";
import { useBasicAuth } from "../http/auth.js";
import { createNodeApp } from "../http/node.js";
import { Copies } from "../jobs/copies.js";
import { joinCluster } from "../jobs/membership.js";
import type { BuildRole } from "../node.js";
import type { PrismContext } from "./context.js";
import { Channels } from "../adapters/redis/channels.js";
import { Existence } from "./existence.js";
import { Placer } from "./place.js";
import { Retriever } from "./retrieve.js";
import { cacheRoutes } from "./routes/cache.js";
import { contentRoutes } from "./routes/content.js";
import { deliverRoutes } from "./routes/deliver.js";
import { purchaseRoutes } from "./routes/purchase.js";
import { putRoutes } from "./routes/put.js";
import { sessionGuard, userRoutes } from "./routes/user.js";
import { Purchases } from "./purchases.js";
import { Sessions } from "./sessions.js";
import { retrieveRoutes, uploadRoutes } from "./routes/upload.js";
import { StorePool } from "../client/pool.js";

export const build: BuildRole = async (deps) => {
  const { config, couch, redis, log } = deps;
  const app = createNodeApp(deps);
  const peers = new PeerTable(couch, config.heartbeat.peerRefresh, log);
  const channels = new Channels(redis, log);
  const existence = new Existence(couch, peers, channels, config.redis.prefix, config.existsCacheLife);
  const pool = new StorePool(peers, config.auth.store, config.limits.requestTimeoutMs);
  const placer = new Placer(pool, new Copies(couch, pool), existence, config.replicas, log);
  const retriever = new Retriever(config.retrieve);
  const privateAuth = await useBasicAuth(app, config.auth.prism);
  const sessions = new Sessions(couch, redis, config.redis.prefix, config.session.life);
  const purchases = new Purchases(redis, { prefix: config.redis.prefix, ...config.purchase }, channels);
  const session = sessionGuard(sessions, privateAuth);
  const ctx: PrismContext = { ...deps, app, peers, existence, pool, placer, privateAuth, session };

  await uploadRoutes(ctx);
  await retrieveRoutes(ctx, retriever);
  await contentRoutes(ctx);
  await putRoutes(ctx);
  await cacheRoutes(ctx);
  await userRoutes(ctx, sessions);
  await purchaseRoutes(ctx, purchases);
  await deliverRoutes(ctx, purchases);

  let leave: (() => Promise<void>) | undefined;
  return {
    app,
    async start() {
      await channels.start();
      leave = await joinCluster(deps, peers);
    },
    async stop() {
      await leave?.();
      channels.stop();
      await retriever.close();
    },
  };
};

import type { StorePool } from "../routing/pool.js";
import type { Config } from "../config.js";
import type { AttemptCounters } from "../core/ports/attempts.js";
import type { Inventory } from "../core/ports/inventory.js";
import type { Notices } from "../core/ports/notices.js";
import type { Owners } from "../core/ports/owners.js";
import type { PeerView } from "../core/ports/peers.js";
import type { PurchaseStore } from "../core/ports/purchases.js";
import type { SessionStore } from "../core/ports/sessions.js";
import type { UserDirectory } from "../core/ports/users.js";
import { useBasicAuth } from "../http/auth.js";
import { documentGuards, publishOpenApi } from "../http/openapi.js";
import { createNodeApp, type NodeApp, type NodeBackends, type RawRoute } from "../http/node.js";
import type { Copies } from "../routing/copies.js";
import type { Logger } from "../log.js";
import { metricsRoute } from "../metrics/http.js";
import { type ClusterSource, consoleRoutes } from "./console/routes.js";
import type { PrismContext } from "./context.js";
import { Delivery } from "./delivery.js";
import { Existence } from "./existence.js";
import { LoginLimit } from "./login-limit.js";
import { Ownership, type TakedownRunner } from "./ownership.js";
import { Placer } from "./place.js";
import { Purchases } from "./purchases.js";
import { Retriever } from "./retrieve.js";
import { cacheRoutes } from "./routes/cache.js";
import { contentRoutes } from "./routes/content.js";
import { deliverRoutes, fastDeliver } from "./routes/deliver.js";
import { manageRoutes } from "./routes/manage.js";
import { purchaseRoutes } from "./routes/purchase.js";
import { putRoutes } from "./routes/put.js";
import { retrieveRoutes, uploadRoutes } from "./routes/upload.js";
import { sessionGuard, userRoutes } from "./routes/user.js";
import { Sessions } from "./sessions.js";

// A prism's app: the front door's routes over the ports it is given. The
// jobs that run beside it (heartbeat, repair, heal, hot content) and the
// adapters behind the ports are wired by app/compose/prism.ts.

export interface PrismParts {
  config: Config;
  log: Logger;
  node: NodeBackends;
  peers: PeerView;
  inventory: Inventory;
  notices: Notices;
  purchases: PurchaseStore;
  sessions: SessionStore;
  users: UserDirectory;
  attempts: AttemptCounters;
  pool: StorePool;
  copies: Copies;
  owners: Owners;
  /** Removes every copy of a hash: reached only from the delete route. */
  takedown: TakedownRunner;
  /** The console's cluster view (app/compose/console.ts). */
  clusterStatus?: ClusterSource;
  /** Told of every delivery (hash, store): the heat hot-content scaling reacts to. */
  onDelivered?: (hash: string, store: string) => void;
}

export interface PrismApp {
  app: NodeApp;
  /** After the app closed: ends what its routes keep open. */
  close(): Promise<void>;
}

export async function buildPrism(p: PrismParts): Promise<PrismApp> {
  const { config, log, peers, pool } = p;
  const rawRoutes: RawRoute[] = [];
  const app = createNodeApp(p.node, { rawRoutes });
  const existence = new Existence(p.inventory, peers, p.notices, config.redis.prefix, config.existsCacheLife);
  const placer = new Placer(pool, p.copies, existence, config.replicas, log, {
    stallMs: config.limits.failoverTimeoutMs,
    clientIdleMs: config.limits.clientIdleMs,
    maxBytes: config.limits.uploadMaxBytes,
    checkMs: config.limits.failoverTimeoutMs,
    suspectPollMs: config.limits.suspectPollMs,
  });
  const retriever = new Retriever(config.retrieve);
  const privateAuth = await useBasicAuth(app, config.auth.prism);
  const sessions = new Sessions(p.sessions, p.users, config.session.life);
  const purchases = new Purchases(p.purchases, config.purchase);
  const session = sessionGuard(sessions, privateAuth);
  const loginLimit = new LoginLimit(p.attempts, config.redis.prefix, config.login);
  documentGuards(app, { session, basic: privateAuth, tokenOnly: ["/user/logout", "/user/session/renew"] });
  metricsRoute(app, privateAuth);
  await publishOpenApi(app, { page: true });
  const ownership = new Ownership({
    ...{ owners: p.owners, takedown: p.takedown, existence, notices: p.notices, prefix: config.redis.prefix },
  });
  const ctx: PrismContext = {
    ...{ config, log, app, peers, existence, pool, placer, ownership },
    ...{ users: p.users, loginLimit, privateAuth, session },
  };

  consoleRoutes(ctx, p.clusterStatus);
  await uploadRoutes(ctx);
  await retrieveRoutes(ctx, retriever);
  await contentRoutes(ctx);
  await manageRoutes(ctx);
  await putRoutes(ctx);
  await cacheRoutes(ctx);
  await userRoutes(ctx, sessions);
  await purchaseRoutes(ctx, purchases);
  const delivery = new Delivery({
    ...{ purchases, existence, pool, counters: app.counters, onDelivered: p.onDelivered },
    ...{ domain: config.domain, signingKey: config.signingKey, signedUrlLife: config.purchase.signedUrlLife },
    ...{ log: log.child({ part: "deliver" }), logSample: config.deliveryLog.sample },
  });
  deliverRoutes(ctx, delivery);
  rawRoutes.push(fastDeliver(delivery, ctx));
  return { app, close: () => retriever.close() };
}

import type { Config } from "../config.js";
import { INVENTORY_CHANNEL } from "../core/inventory.js";
import { peerKey } from "../core/peer.js";
import type { Blobs } from "../core/ports/blobs.js";
import type { Inventory } from "../core/ports/inventory.js";
import type { Notices } from "../core/ports/notices.js";
import type { PeerDirectory } from "../core/ports/peers.js";
import { accessLogDir } from "../core/usage.js";
import { useBasicAuth } from "../http/auth.js";
import { documentGuards, publishOpenApi } from "../http/openapi.js";
import { createNodeApp, type NodeApp, type NodeBackends } from "../http/node.js";
import type { Logger } from "../log.js";
import { metricsRoute } from "../metrics/http.js";
import { AccessLogFollower } from "./access-log.js";
import { CapacityReporter } from "./capacity.js";
import { StoreContent } from "./content.js";
import type { StoreContext } from "./context.js";
import { checkIdentity } from "./identity.js";
import { contentRoutes } from "./routes/content.js";
import { uploadRoutes } from "./routes/upload.js";
import { Staging } from "./staging.js";

// A store's app: one disk of content behind basic auth (/, /ping, /stats and
// /healthz stay public; /metrics is behind it), and the loops that belong to
// the disk (staging sweeps, the capacity report, the nginx access log). The
// cluster jobs beside it are wired by app/compose/store.ts.

export interface StoreParts {
  config: Config;
  log: Logger;
  node: NodeBackends;
  inventory: Inventory;
  directory: PeerDirectory;
  notices: Notices;
  blobs: Blobs;
}

export interface StoreApp {
  app: NodeApp;
  content: StoreContent;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function buildStore(p: StoreParts): Promise<StoreApp> {
  const { config, log, inventory, directory } = p;
  const app = createNodeApp(p.node);
  const channel = INVENTORY_CHANNEL(config.redis.prefix);
  const announce = (hash: string) => p.notices.publish(channel, hash);
  const content = new StoreContent({ config, inventory, blobs: p.blobs, announce, log });
  const { stageLife, uploadMaxBytes, requestTimeoutMs } = config.limits;
  const staging = new Staging(
    content.blobs,
    { ttlMs: stageLife, maxBytes: uploadMaxBytes, idleMs: requestTimeoutMs },
    log.child({ part: "staging" }),
  );
  const key = peerKey("store", config.name, config.prism);
  const capacity = new CapacityReporter(directory, key, config.dataRoot, config.heartbeat.capacityRefresh, log);
  const ctx: StoreContext = { config, log, app, content, directory, staging };
  // What this store's nginx served, from its own access log (oose_nginx_*).
  const accessLog = config.accessLog.enabled
    ? new AccessLogFollower({ ...config.accessLog, dir: accessLogDir(config), log: log.child({ job: "access-log" }) })
    : undefined;

  // Before init, which would create an empty content folder on whatever is mounted there.
  await checkIdentity({ config, inventory, log });
  await content.blobs.init();
  await app.register(async (scope) => {
    const priv = scope as NodeApp;
    // onRequest: a caller without credentials is refused before any body is read.
    priv.addHook("onRequest", await useBasicAuth(priv, config.auth.store));
    documentGuards(priv, "basic");
    metricsRoute(priv);
    await publishOpenApi(priv, { page: false });
    await uploadRoutes(ctx, priv);
    await contentRoutes(ctx, priv);
  });
  return {
    app,
    content,
    async start() {
      staging.start();
      await capacity.start();
      accessLog?.start();
    },
    async stop() {
      await accessLog?.stop();
      capacity.stop();
      await staging.stop();
    },
  };
}

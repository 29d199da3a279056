import { CouchInventory } from "../adapters/couch/inventory.js";
import { CouchPeers } from "../adapters/couch/peers.js";
import { CouchVotes } from "../adapters/couch/votes.js";
import { BlobStore } from "../adapters/disk/index.js";
import { RedisJobState } from "../adapters/redis/job-state.js";
import { INVENTORY_CHANNEL } from "../core/inventory.js";
import { peerKey } from "../core/peer.js";
import { PeerTable } from "../core/peer-table.js";
import { useBasicAuth } from "../http/auth.js";
import { createNodeApp, type NodeApp } from "../http/node.js";
import { metricsRoute } from "../metrics/http.js";
import { DiskHealthWriter } from "../jobs/disk-health.js";
import { joinCluster } from "../jobs/membership.js";
import { Scrub } from "../jobs/scrub.js";
import type { BuildRole } from "../node.js";
import { accessLogDir } from "../core/usage.js";
import { AccessLogFollower } from "./access-log.js";
import { CapacityReporter } from "./capacity.js";
import { StoreContent } from "./content.js";
import type { StoreContext } from "./context.js";
import { checkIdentity } from "./identity.js";
import { contentRoutes } from "./routes/content.js";
import { uploadRoutes } from "./routes/upload.js";
import { Staging } from "./staging.js";

// A store: one disk of content behind basic auth (/, /ping, /stats and
// /healthz stay public; /metrics is behind it). On start it joins the cluster (registers as available,
// keeping an operator's active: false, and runs the heartbeat); on stop it
// marks itself unavailable.

export const build: BuildRole = async (deps) => {
  const { config, couch, redis, log } = deps;
  const app = createNodeApp(deps);
  const inventory = new CouchInventory(couch, config.couchdb.batch);
  const directory = new CouchPeers(couch);
  const votes = new CouchVotes(couch);
  const blobs = new BlobStore(config.dataRoot);
  const announce = (hash: string) => redis.publish(INVENTORY_CHANNEL(config.redis.prefix), hash);
  const content = new StoreContent({ config, inventory, blobs, announce, log });
  inventory.writer.observe((docs) => {
    app.counters.inc("stat:store:inventory:writes");
    app.counters.inc("stat:store:inventory:docs", docs);
  });
  const { stageLife, uploadMaxBytes, requestTimeoutMs } = config.limits;
  const staging = new Staging(
    content.blobs,
    { ttlMs: stageLife, maxBytes: uploadMaxBytes, idleMs: requestTimeoutMs },
    log.child({ part: "staging" }),
  );
  const key = peerKey("store", config.name, config.prism);
  const capacity = new CapacityReporter(directory, key, config.dataRoot, config.heartbeat.capacityRefresh, log);
  const ctx: StoreContext = { ...deps, app, content, directory, staging };
  // The file the prisms' probe reads through this store's nginx: proof that the disk reads and takes writes.
  const diskHealth = new DiskHealthWriter({
    ...{ dataRoot: config.dataRoot, interval: config.probe.diskWrite },
    log: log.child({ job: "disk-health" }),
  });
  const scrub = config.scrub.enabled
    ? new Scrub({ config, inventory, state: new RedisJobState(redis), content, log: log.child({ job: "scrub" }) })
    : undefined;
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
    metricsRoute(priv);
    await uploadRoutes(ctx, priv);
    await contentRoutes(ctx, priv);
  });

  const peers = new PeerTable(directory, config.heartbeat.peerRefresh, log);
  let leave: (() => Promise<void>) | undefined;
  return {
    app,
    async start() {
      diskHealth.start();
      leave = await joinCluster({ config, directory, votes, log }, peers);
      staging.start();
      await capacity.start();
      scrub?.start();
      accessLog?.start();
    },
    async stop() {
      await accessLog?.stop();
      await scrub?.stop();
      capacity.stop();
      await staging.stop();
      await leave?.();
      diskHealth.stop();
    },
  };
};

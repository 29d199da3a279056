import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../app/config.js";
import { nodeEnv } from "../app/topology/env.js";
import { type ClusterNode, nodesOf } from "../app/topology/model.js";
import { apiUrl, dockerAddressing, NODE_TLS } from "./addressing.js";
import { backendTls } from "./backend-tls.js";
import type { HostContext } from "./components/common.js";
import { ClusterCa } from "./components/ca.js";
import { CouchDb } from "./components/couchdb.js";
import { Front } from "./components/front.js";
import { Images } from "./components/images.js";
import { Migrate } from "./components/migrate.js";
import { Monitoring } from "./components/monitoring.js";
import { Network } from "./components/network.js";
import { nodeTls } from "./components/node-tls.js";
import { PrismNode } from "./components/prism.js";
import { RedisHa } from "./components/redis.js";
import { ClusterSecrets } from "./components/secrets.js";
import { StoreNode } from "./components/store.js";
import { monitoringHost } from "./config.js";
import { planLayout, type Service } from "./layout.js";
import type { StackConfig } from "./stack.js";

// The topology rendered as Docker containers: a provider per host, the
// network, images, CouchDB and Redis, the migration, then stores, prisms and
// the front, and Prometheus and Grafana when monitoring is enabled. Every
// node's env comes from nodeEnv and must pass loadConfig.

export function createCluster(cfg: StackConfig) {
  const layout = planLayout(cfg);
  const registry = cfg.images.registry;
  const providers = Object.fromEntries(
    cfg.hosts.map((h) => [
      h.name,
      new docker.Provider(`host-${h.name}`, {
        host: h.docker,
        sshOpts: h.sshOpts,
        registryAuth: registry
          ? [{ address: registry.server, username: registry.username, password: cfg.secrets.registryPassword }]
          : undefined,
      }),
    ]),
  );
  const secrets = new ClusterSecrets("secrets", { auth: cfg.auth, given: cfg.secrets });
  // The one CA of the stack: node APIs, CouchDB, Redis and Sentinel certificates all come from it.
  const ca = new ClusterCa("ca");
  const network = new Network("network", { name: layout.network, providers, subnets: layout.subnets });
  const hosts: Record<string, HostContext> = Object.fromEntries(
    cfg.hosts.map((h) => [
      h.name,
      { host: h, provider: providers[h.name]!, network: network.networks[h.name]!, logging: cfg.logging },
    ]),
  );
  const ctx = (s: Service) => hosts[s.host.name]!;
  const on = (list: Service[]) => list.map((s) => s.host.name);
  const images = new Images("images", {
    images: cfg.images,
    registryPassword: cfg.secrets.registryPassword,
    providers,
    buildHost: layout.jobHost.name,
    needs: {
      app: [...on(layout.prisms), ...on(layout.stores), layout.jobHost.name],
      couchdb: on(layout.couchdb),
      redis: [...on(layout.redis), ...on(layout.sentinels)],
      nginx: [...on(layout.storeNginx), ...(layout.front ? [layout.front.host.name] : [])],
    },
  });

  const couchdb = new CouchDb("couchdb", {
    nodes: layout.couchdb,
    multiHost: layout.multiHost,
    network: layout.network,
    hosts,
    image: (h) => images.ref("couchdb", h),
    jobImage: images.ref("app", layout.jobHost.name),
    secrets,
    limits: cfg.limits.couchdb,
    jobHost: layout.jobHost.name,
    ca,
  });
  const redis = new RedisHa("redis", {
    nodes: layout.redis,
    sentinels: layout.sentinels,
    masterName: cfg.redis.name,
    hosts,
    image: (h) => images.ref("redis", h),
    password: secrets.redisPassword,
    sentinelPassword: secrets.sentinelPassword,
    ca,
    limits: { redis: cfg.limits.redis, sentinel: cfg.limits.sentinel },
  });

  const appSecrets = secrets.appSecrets();
  // Validated here with the app's own loader, so a bad env fails `pulumi up`, not a container.
  const envOf = (node: ClusterNode) =>
    appSecrets.apply((s) => {
      const env = nodeEnv(cfg, node, backendTls(layout, dockerAddressing(layout, node.host), NODE_TLS.ca), s);
      loadConfig(env);
      return env;
    });
  const nodes = nodesOf(cfg);
  const firstPrism = nodes.find((n) => n.role === "prism")!;
  const migrate = new Migrate("migrate", {
    ctx: hosts[layout.jobHost.name]!,
    container: `${cfg.prefix}-migrate`,
    image: images.ref("app", layout.jobHost.name),
    env: envOf(firstPrism),
    couchReady: couchdb.ready,
    ca: ca.cert,
    dependsOn: [couchdb, redis],
  });

  const app = (node: ClusterNode, service: Service) => ({
    node,
    service,
    tls: nodeTls(ca, service),
    ctx: ctx(service),
    image: images.ref("app", service.host.name),
    env: envOf(node),
    after: [migrate.done],
    dependsOn: [migrate, redis],
    limits: node.role === "prism" ? cfg.limits.prism : cfg.limits.store,
  });
  const stores = layout.stores.map((s, i) => {
    const node = nodes.find((n) => n.role === "store" && n.name === s.name)!;
    const nginx = layout.storeNginx[i]!;
    return new StoreNode(s.name, {
      ...app(node, s),
      nginx,
      nginxImage: images.ref("nginx", nginx.host.name),
      nginxLimits: cfg.limits.nginx,
      publicTls: secrets.tls,
      storage: cfg.storage[s.name],
    });
  });
  const prisms = layout.prisms.map((p) => {
    const node = nodes.find((n) => n.role === "prism" && n.name === p.name)!;
    return new PrismNode(p.name, app(node, p));
  });
  const front = layout.front
    ? new Front("front", {
        service: layout.front,
        ctx: ctx(layout.front),
        image: images.ref("nginx", layout.front.host.name),
        prisms: layout.prisms,
        prismContainers: prisms.map((p) => p.app),
        limits: cfg.limits.nginx,
        tls: secrets.tls,
        ca: ca.cert,
      })
    : undefined;
  const monitoring = cfg.monitoring.enabled
    ? new Monitoring("monitoring", {
        ctx: hosts[monitoringHost(cfg)]!,
        prefix: cfg.prefix,
        prisms: layout.prisms,
        stores: layout.stores,
        prismAuth: secrets.prismAuth,
        storeAuth: secrets.storeAuth,
        ca: ca.cert,
        settings: cfg.monitoring,
        images: cfg.images,
        limits: { prometheus: cfg.limits.prometheus, grafana: cfg.limits.grafana },
      })
    : undefined;
  const grafanaAdmin = monitoring?.grafanaAdmin;

  return {
    frontUrl: layout.frontUrl,
    /** How the nodes reach each prism (on one host: names on the Docker network). */
    prismUrls: Object.fromEntries(layout.prisms.map((p) => [p.name, apiUrl(p)])),
    storeUrls: Object.fromEntries(layout.stores.map((s) => [s.name, layout.publicUrl(s.name)])),
    credentials: pulumi.secret(
      pulumi.all([appSecrets, grafanaAdmin?.password]).apply(([s, grafana]) => ({
        prism: s.prismAuth,
        store: s.storeAuth,
        couchdb: s.couchdb,
        // What the operator tools need beside CouchDB's: the Redis and Sentinel passwords.
        redis: { password: s.redisPassword, sentinelPassword: s.sentinelPassword },
        ...(grafana ? { grafana: { username: grafanaAdmin!.username, password: grafana } } : {}),
      })),
    ),
    resources: { network, images, couchdb, redis, migrate, stores, prisms, front, monitoring },
  };
}

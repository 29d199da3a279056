import { readFileSync } from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../../app/config.js";
import { nodeEnv } from "../../app/topology/env.js";
import { type ClusterNode, nodesOf } from "../../app/topology/model.js";
import { renderStoreNginx, storeNginxOptions } from "../../nginx/store.js";
import { ClusterSecrets } from "../components/secrets.js";
import { KubeCouchDb } from "./couchdb.js";
import { appSecretEnv, type PodEnvArgs, podEnv } from "./env.js";
import { KubeFront } from "./front.js";
import { KubeMigrate } from "./migrate.js";
import { FROM_POD, type KubeNames, kubeAddressing, kubeNames, kubeSpec } from "./names.js";
import { TLS_PATHS } from "./nginx.js";
import { labels, ROLLED } from "./pod.js";
import { KubePrism } from "./prism.js";
import { KubeRedis } from "./redis.js";
import type { KubeStackConfig } from "./stack.js";
import { ACCESS_LOG_ROOT, KubeStore, storesService } from "./store.js";
import { zoneAccess } from "./zone.js";

// The topology rendered as Kubernetes objects, from the same model, nodeEnv,
// secrets and config renderers as the Docker target: CouchDB and Redis (or
// existing ones), the migration job, then the stores and prisms, then what
// end users reach. Every object names the stack's provider and namespace.

export function createKubernetesCluster(cfg: KubeStackConfig) {
  const k = cfg.kubernetes;
  const names = kubeNames(cfg);
  const spec = kubeSpec(cfg);
  const at = kubeAddressing(cfg, names);
  const provider = new k8s.Provider("kubernetes", {
    kubeconfig: k.kubeconfig,
    context: k.context,
    namespace: k.namespace,
  });
  const ns = k.createNamespace
    ? // Kept by `pulumi destroy`: deleting it would delete the stores' volume claims with it.
      new k8s.core.v1.Namespace("namespace", { metadata: { name: k.namespace } }, { provider, retainOnDelete: true })
    : undefined;
  const opts = { provider, dependsOn: ns ? [ns] : [] };
  const pullSecrets = k.imagePullSecrets.map((name) => ({ name }));
  const secrets = new ClusterSecrets("secrets", { auth: cfg.auth, given: cfg.secrets });
  const appSecrets = secrets.appSecrets();
  const appSecret = new k8s.core.v1.Secret(
    "app-secret",
    {
      metadata: { namespace: k.namespace },
      stringData: pulumi.secret(appSecrets.apply((s) => appSecretEnv(spec, at, s))),
    },
    { ...opts, ...ROLLED },
  );
  const tlsSecret =
    secrets.tls &&
    new k8s.core.v1.Secret(
      "tls-secret",
      {
        metadata: { namespace: k.namespace },
        type: "kubernetes.io/tls",
        stringData: { "tls.crt": secrets.tls.cert, "tls.key": secrets.tls.key },
      },
      { ...opts, ...ROLLED },
    );

  const couchdb = cfg.couchdb.url
    ? undefined
    : new KubeCouchDb(
        "couchdb",
        {
          names,
          prefix: cfg.prefix,
          nodes: cfg.couchdb.nodes,
          image: cfg.images.couchdb,
          jobImage: cfg.images.app,
          secrets,
          storage: k.storage.couchdb,
          limit: cfg.limits.couchdb,
          request: k.requests.couchdb,
          imagePullSecrets: pullSecrets,
        },
        opts,
      );
  const redis = cfg.redis.external
    ? undefined
    : new KubeRedis(
        "redis",
        {
          names,
          prefix: cfg.prefix,
          masterName: cfg.redis.name,
          image: cfg.images.redis,
          password: secrets.redisPassword,
          storage: k.storage.redis,
          limits: cfg.limits,
          requests: k.requests,
          imagePullSecrets: pullSecrets,
        },
        opts,
      );

  const envArgs: PodEnvArgs = { spec, at, auth: cfg.auth, secret: appSecret.metadata.name };
  const nodes = nodesOf(spec);
  const fromNode = nodes.some((n) => n.zone === FROM_POD.zone);
  const zone = fromNode ? zoneAccess("zone", names, cfg.prefix, readZoneScript(), opts) : undefined;
  const zoneOf = (n: ClusterNode) => (n.zone === FROM_POD.zone ? zone : undefined);
  const migrate = new KubeMigrate(
    "migrate",
    {
      names,
      prefix: cfg.prefix,
      image: cfg.images.app,
      env: podEnv(nodes.find((n) => n.role === "prism")!, envArgs),
      imagePullSecrets: pullSecrets,
      dependsOn: [...(couchdb ? [couchdb.setup] : []), ...(redis ? [redis.redis, redis.sentinels] : []), appSecret],
    },
    opts,
  );
  const after = [migrate.job];

  const storeNodes = nodes.filter((n) => n.role === "store");
  storesService(names, cfg.prefix, opts);
  const stores = storeNodes.map((node) => {
    const extra = { OOSE_ACCESS_LOG__DIR: ACCESS_LOG_ROOT };
    const site = {
      listen: { host: "0.0.0.0", port: names.nginxPort },
      tls: tlsSecret && k.expose === "nginx" ? TLS_PATHS : undefined,
    };
    const nginxConf = pulumi.secret(
      appSecrets.apply((s) => renderStoreNginx(storeNginxOptions(loadConfig(nodeEnv(spec, node, at, s, extra)), site))),
    );
    return new KubeStore(
      node.name,
      {
        names,
        prefix: cfg.prefix,
        store: node.name,
        image: cfg.images.app,
        nginxImage: cfg.images.nginx,
        env: podEnv(node, envArgs),
        nginxConf,
        storage: k.storage.store,
        limits: { store: cfg.limits.store, nginx: cfg.limits.nginx },
        requests: { store: k.requests.store, nginx: k.requests.nginx },
        spread: k.storeSpread,
        zone: zoneOf(node),
        tlsSecret: k.expose === "nginx" ? tlsSecret?.metadata.name : undefined,
        publicService: k.expose === "nginx" ? k.serviceType : undefined,
        imagePullSecrets: pullSecrets,
        dependsOn: after,
      },
      opts,
    );
  });
  const prisms = nodes
    .filter((n) => n.role === "prism")
    .map(
      (node) =>
        new KubePrism(
          node.name,
          {
            names,
            prefix: cfg.prefix,
            prism: node.name,
            image: cfg.images.app,
            env: podEnv(node, envArgs),
            limit: cfg.limits.prism,
            request: k.requests.prism,
            zone: zoneOf(node),
            imagePullSecrets: pullSecrets,
            dependsOn: after,
          },
          opts,
        ),
    );
  const budgets = disruptionBudgets(names, cfg.prefix, opts);
  const front = new KubeFront(
    "front",
    {
      names,
      cfg,
      stores: storeNodes.map((s) => s.name),
      prisms: prisms.map((_, i) => cfg.prisms[i]!.name),
      nginxImage: cfg.images.nginx,
      tlsSecret: tlsSecret?.metadata.name,
      limit: cfg.limits.nginx,
      request: k.requests.nginx,
      dependsOn: prisms.map((p) => p.deployment),
    },
    opts,
  );

  return {
    frontUrl: cfg.front ? names.frontUrl : undefined,
    /** How the pods reach each prism: its Service's cluster DNS name. */
    prismUrls: Object.fromEntries(nodes.filter((n) => n.role === "prism").map((n) => [n.name, at.api(n).advertiseUrl])),
    storeUrls: Object.fromEntries(cfg.stores.map((s) => [s.name, names.storePublicUrl(s.name)])),
    credentials: pulumi.secret(
      appSecrets.apply((s) => ({ prism: s.prismAuth, store: s.storeAuth, couchdb: s.couchdb })),
    ),
    resources: { provider, appSecret, couchdb, redis, migrate, stores, prisms, budgets, front },
  };
}

const readZoneScript = () => readFileSync(new URL("./node-zone.mjs", import.meta.url), "utf8");

/** At most one store and one prism down at a time for a node drain or any other eviction. */
function disruptionBudgets(names: KubeNames, prefix: string, opts: pulumi.CustomResourceOptions) {
  return (["store", "prism"] as const).map(
    (role) =>
      new k8s.policy.v1.PodDisruptionBudget(
        `${role}-budget`,
        {
          metadata: { name: names.name(`${role}s`), namespace: names.namespace },
          spec: { maxUnavailable: 1, selector: { matchLabels: labels(prefix, role) } },
        },
        opts,
      ),
  );
}

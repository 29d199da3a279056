import type { Addressing, Endpoint } from "../../app/topology/env.js";
import type { ClusterNode, ClusterSpec } from "../../app/topology/model.js";
import { DATA_ROOT } from "../addressing.js";
import { PORTS } from "../layout.js";
import type { KubeStackConfig } from "./stack.js";

// Object names and the Kubernetes renderer's answer to nodeEnv's "where":
// pods listen on all interfaces and advertise their Service's cluster DNS
// name; Redis and CouchDB pods have stable names under headless Services.

export type KubeNamesInput = Pick<
  KubeStackConfig,
  "prefix" | "kubernetes" | "prisms" | "stores" | "domain" | "replicas" | "redis" | "couchdb" | "front" | "tls"
>;

/** What nodeEnv is given where the pod itself fills the value in at start (see env.ts). */
export const FROM_POD = { host: "(the node's name)", zone: "(the node's zone label)" };

/** The topology as nodeEnv takes it: hosts (and zones left out) are the pod's to fill in. */
export function kubeSpec(cfg: KubeNamesInput): ClusterSpec {
  const place = <N extends { zone?: string }>(n: N) => ({ ...n, zone: n.zone ?? FROM_POD.zone, host: FROM_POD.host });
  return {
    domain: cfg.domain,
    replicas: cfg.replicas,
    front: cfg.front,
    prisms: cfg.prisms.map(place),
    stores: cfg.stores.map(place),
    redis: { name: cfg.redis.name, replicas: cfg.redis.replicas, sentinels: cfg.redis.sentinels },
    couchdb: { nodes: cfg.couchdb.nodes },
  };
}

export function kubeNames(cfg: KubeNamesInput) {
  const k = cfg.kubernetes;
  const name = (what: string) => `${cfg.prefix}-${what}`;
  const fqdn = (service: string) => `${service}.${k.namespace}.svc.${k.clusterDomain}`;
  /** The nth pod of a StatefulSet, by its name under the set's headless Service. */
  const pod = (set: string, i: number, service = set) => `${set}-${i}.${fqdn(service)}`;
  const proto = cfg.tls ? "https" : "http";
  return {
    namespace: k.namespace,
    name,
    fqdn,
    pod,
    couchdb: name("couchdb"),
    redis: name("redis"),
    sentinel: name("sentinel"),
    /** Every store pod's governing (headless) Service. */
    stores: name("stores"),
    /** The Service over every prism: the front's upstream. */
    prisms: name("prisms"),
    /** The store nginx listens with TLS itself only when it is exposed without the Ingress. */
    nginxPort: cfg.tls && k.expose === "nginx" ? PORTS.nginxTls : PORTS.nginx,
    storePublicUrl: (store: string) => `${proto}://${store}.${cfg.domain}`,
    frontUrl: `${proto}://${cfg.domain}`,
    redisNodes: Array.from(
      { length: 1 + cfg.redis.replicas },
      (_, i): Endpoint => ({
        host: pod(name("redis"), i),
        port: PORTS.redis,
      }),
    ),
    sentinels: Array.from(
      { length: cfg.redis.sentinels },
      (_, i): Endpoint => ({
        host: pod(name("sentinel"), i),
        port: PORTS.sentinel,
      }),
    ),
  };
}

export type KubeNames = ReturnType<typeof kubeNames>;

/** Addressing for every pod: the same for all of them, as Services are cluster-wide names. */
export function kubeAddressing(cfg: KubeNamesInput, names = kubeNames(cfg)): Addressing {
  const port = (n: ClusterNode) => (n.role === "prism" ? PORTS.prism : PORTS.store);
  const ext = cfg.redis.external;
  const http = (host: string, p: number) => `http://${host}:${p}`;
  return {
    couchdbUrl: cfg.couchdb.url ?? http(names.fqdn(names.couchdb), PORTS.couchdb),
    redis: ext?.url ? { url: ext.url } : { sentinels: ext?.sentinels ?? names.sentinels },
    api: (n) => ({
      listen: { host: "0.0.0.0", port: port(n) },
      advertiseUrl: http(names.fqdn(names.name(n.name)), port(n)),
    }),
    publicUrl: (n) => (n.role === "store" ? names.storePublicUrl(n.name) : undefined),
    nginxUrl: (n) =>
      n.role === "store"
        ? `${names.nginxPort === PORTS.nginxTls ? "https" : "http"}://${names.fqdn(names.name(n.name))}:${names.nginxPort}`
        : undefined,
    dataRoot: () => DATA_ROOT,
  };
}

import path from "node:path";
import type { ClusterNode, ClusterSpec } from "../../app/topology/model.js";
import type { Addressing, Endpoint } from "../../app/topology/env.js";

// Where each part of a local cluster listens, derived from one base port P so
// a whole cluster occupies the block P..P+99 on 127.0.0.1:
//   P+0 front nginx, P+1 CouchDB, P+2 Redis primary, P+3 Redis replica,
//   P+4..P+6 Sentinels, P+10+i prism i, P+40+j store j API, P+70+j store j nginx.

export const HOST = "127.0.0.1";
export const BLOCK_SIZE = 100;
const MAX_NODES = 30;

export interface LocalPorts {
  front: number;
  couchdb: number;
  redisPrimary: number;
  redisReplicas: number[];
  sentinels: number[];
  api: Map<string, number>;
  storeNginx: Map<string, number>;
}

export function localPorts(spec: ClusterSpec, base: number): LocalPorts {
  if (spec.prisms.length > MAX_NODES || spec.stores.length > MAX_NODES)
    throw new Error(`a local cluster has room for ${MAX_NODES} prisms and ${MAX_NODES} stores`);
  if (spec.redis.replicas > 1 || spec.redis.sentinels > 3)
    throw new Error("a local cluster has room for 1 Redis replica and 3 Sentinels");
  if (base < 1 || base + BLOCK_SIZE - 1 > 65535)
    throw new Error(`base port ${base} leaves no room for ${BLOCK_SIZE} ports`);
  return {
    front: base,
    couchdb: base + 1,
    redisPrimary: base + 2,
    redisReplicas: Array.from({ length: spec.redis.replicas }, (_, i) => base + 3 + i),
    sentinels: Array.from({ length: spec.redis.sentinels }, (_, i) => base + 4 + i),
    api: new Map([
      ...spec.prisms.map((p, i) => [p.name, base + 10 + i] as const),
      ...spec.stores.map((s, j) => [s.name, base + 40 + j] as const),
    ]),
    storeNginx: new Map(spec.stores.map((s, j) => [s.name, base + 70 + j] as const)),
  };
}

/** Every port a cluster will bind, labelled, for the "port in use" check. */
export function neededPorts(spec: ClusterSpec, ports: LocalPorts, withCouch: boolean): [number, string][] {
  return [
    ...(spec.front ? [[ports.front, "front nginx"] as [number, string]] : []),
    ...(withCouch ? [[ports.couchdb, "couchdb"] as [number, string]] : []),
    [ports.redisPrimary, "redis primary"],
    ...ports.redisReplicas.map((p, i): [number, string] => [p, `redis replica ${i + 1}`]),
    ...ports.sentinels.map((p, i): [number, string] => [p, `redis sentinel ${i + 1}`]),
    ...[...ports.api].map(([name, p]): [number, string] => [p, `${name} api`]),
    ...[...ports.storeNginx].map(([name, p]): [number, string] => [p, `${name} nginx`]),
  ];
}

const url = (port: number, scheme = "http") => `${scheme}://${HOST}:${port}`;

/** Certificate files of a local cluster (see pki.ts); without them the node APIs speak plain HTTP. */
export interface LocalTls {
  ca: string;
  cert(name: string): string;
  key(name: string): string;
}

export function localAddressing(
  spec: ClusterSpec,
  base: number,
  dataDir: string,
  couchdbUrl?: string,
  tls?: LocalTls,
): Addressing & { ports: LocalPorts } {
  const ports = localPorts(spec, base);
  // Only the node APIs use TLS; a store's nginx (the bytes path) stays plain HTTP locally.
  const apiScheme = tls ? "https" : "http";
  const port = (map: Map<string, number>, node: ClusterNode) => {
    const p = map.get(node.name);
    if (p === undefined) throw new Error(`${node.name} is not in the cluster spec`);
    return p;
  };
  return {
    ports,
    couchdbUrl: couchdbUrl ?? url(ports.couchdb),
    redis: { sentinels: ports.sentinels.map((p): Endpoint => ({ host: HOST, port: p })) },
    api: (node) => {
      const p = port(ports.api, node);
      return { listen: { host: HOST, port: p }, advertiseUrl: url(p, apiScheme) };
    },
    tls: (node) => tls && { cert: tls.cert(node.name), key: tls.key(node.name), ca: tls.ca },
    publicUrl: (node) => (node.role === "store" ? url(port(ports.storeNginx, node)) : undefined),
    dataRoot: (node) => path.join(path.resolve(dataDir), node.name),
  };
}

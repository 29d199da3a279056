import { type ConfigValues, type Credentials, configEnv } from "../config.js";
import type { ClusterNode, ClusterSpec } from "./model.js";

// nodeEnv joins the logical model with a renderer's addresses and the secrets.
// The local cluster and the Pulumi program both call it, so a node gets the
// same configuration in a process as in a container. The values are typed and
// named by ConfigSchema (configEnv), so a variable cannot be misspelt.

export interface Endpoint {
  host: string;
  port: number;
}

export interface Addressing {
  couchdbUrl: string;
  /** The CA file an https:// CouchDB is checked against. */
  couchdbCa?: string;
  redis: ({ sentinels: Endpoint[]; url?: undefined } | { url: string; sentinels?: undefined }) & {
    /** TLS to the Sentinels and Redis, checked against this CA file. */
    tls?: { ca: string };
  };
  /** Where the node listens and the URL peers use to reach it. */
  api(node: ClusterNode): { listen: Endpoint; advertiseUrl: string };
  /** The store's nginx as end users see it (undefined: `<proto>://<name>.<domain>`). */
  publicUrl(node: ClusterNode): string | undefined;
  /** The store's nginx as prisms reach it, when not by its public URL. */
  nginxUrl?(node: ClusterNode): string | undefined;
  dataRoot(node: ClusterNode): string;
  /**
   * Certificate files as the node sees them (config.tls), or undefined for
   * plain HTTP. Both the local cluster and the Pulumi renderer set them.
   */
  tls?(node: ClusterNode): { pem?: string; cert?: string; key?: string; ca?: string } | undefined;
}

export interface Secrets {
  prismAuth: Credentials;
  storeAuth: Credentials;
  signingKey: string;
  couchdb?: Credentials;
  redisPassword?: string;
  sentinelPassword?: string;
}

/** Environment variable names whose values are secret (for renderers that must mark them). */
export const SECRET_ENV = Object.keys(
  configEnv({
    auth: { prism: { password: "-" }, store: { password: "-" } },
    signingKey: "-",
    couchdb: { password: "-" },
    redis: { password: "-", sentinelPassword: "-" },
  }),
);

export function nodeEnv(
  spec: ClusterSpec,
  node: ClusterNode,
  at: Addressing,
  secrets: Secrets,
  extra: Record<string, string> = {},
): Record<string, string> {
  const { listen, advertiseUrl } = at.api(node);
  const tls = at.tls?.(node);
  const creds = (c: Credentials) => ({ username: c.username, password: c.password });
  const values: ConfigValues = {
    role: node.role,
    name: node.name,
    prism: node.role === "store" ? node.prism : node.name,
    site: node.site,
    zone: node.zone,
    host: node.host,
    domain: spec.domain,
    replicas: spec.replicas,
    listen: { host: listen.host, port: listen.port },
    advertiseUrl,
    publicUrl: at.publicUrl(node),
    nginxUrl: at.nginxUrl?.(node),
    dataRoot: at.dataRoot(node),
    couchdb: {
      url: at.couchdbUrl,
      ca: at.couchdbCa,
      username: secrets.couchdb?.username,
      password: secrets.couchdb?.password,
    },
    redis: {
      url: at.redis.url,
      sentinels: at.redis.sentinels,
      name: spec.redis.name,
      password: secrets.redisPassword,
      sentinelPassword: secrets.sentinelPassword,
      tls: at.redis.tls,
    },
    auth: { prism: creds(secrets.prismAuth), store: creds(secrets.storeAuth) },
    signingKey: secrets.signingKey,
    tls: tls && { pem: tls.pem, cert: tls.cert, key: tls.key, ca: tls.ca },
  };
  return {
    ...configEnv(values),
    // A store's commits wait on fsyncs in libuv's pool; its default 4 threads queue every other disk call behind them.
    ...(node.role === "store" ? { UV_THREADPOOL_SIZE: "32" } : {}),
    ...extra,
  };
}

import type { ClusterNode, ClusterSpec } from "./model.js";

// nodeEnv joins the logical model with a renderer's addresses and the secrets.
// The local cluster and the Pulumi program both call it, so a node gets the
// same configuration in a process as in a container.

export interface Endpoint {
  host: string;
  port: number;
}

export interface Addressing {
  couchdbUrl: string;
  redis: { sentinels: Endpoint[]; url?: undefined } | { url: string; sentinels?: undefined };
  /** Where the node listens and the URL peers use to reach it. */
  api(node: ClusterNode): { listen: Endpoint; advertiseUrl: string };
  /** The store's nginx as end users see it (undefined: `<proto>://<name>.<domain>`). */
  publicUrl(node: ClusterNode): string | undefined;
  /** The store's nginx as prisms reach it, when not by its public URL. */
  nginxUrl?(node: ClusterNode): string | undefined;
  dataRoot(node: ClusterNode): string;
  /**
   * Certificate files as the node sees them (config.tls), or undefined for
   * plain HTTP. The local cluster sets them; the Pulumi renderer does not yet.
   */
  tls?(node: ClusterNode): { pem?: string; cert?: string; key?: string; ca?: string } | undefined;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface Secrets {
  prismAuth: Credentials;
  storeAuth: Credentials;
  signingKey: string;
  couchdb?: Credentials;
  redisPassword?: string;
}

/** Environment variable names whose values are secret (for renderers that must mark them). */
export const SECRET_ENV = [
  "OOSE_AUTH__PRISM__PASSWORD",
  "OOSE_AUTH__STORE__PASSWORD",
  "OOSE_SIGNING_KEY",
  "OOSE_COUCHDB__PASSWORD",
  "OOSE_REDIS__PASSWORD",
] as const;

export function nodeEnv(
  spec: ClusterSpec,
  node: ClusterNode,
  at: Addressing,
  secrets: Secrets,
  extra: Record<string, string> = {},
): Record<string, string> {
  const { listen, advertiseUrl } = at.api(node);
  const tls = at.tls?.(node);
  const env: Record<string, string | undefined> = {
    OOSE_ROLE: node.role,
    OOSE_NAME: node.name,
    OOSE_PRISM: node.role === "store" ? node.prism : node.name,
    OOSE_SITE: node.site,
    OOSE_ZONE: node.zone,
    OOSE_HOST: node.host,
    OOSE_DOMAIN: spec.domain,
    OOSE_REPLICAS: String(spec.replicas),
    OOSE_LISTEN__HOST: listen.host,
    OOSE_LISTEN__PORT: String(listen.port),
    OOSE_ADVERTISE_URL: advertiseUrl,
    OOSE_PUBLIC_URL: at.publicUrl(node),
    OOSE_NGINX_URL: at.nginxUrl?.(node),
    OOSE_DATA_ROOT: at.dataRoot(node),
    OOSE_COUCHDB__URL: at.couchdbUrl,
    OOSE_COUCHDB__USERNAME: secrets.couchdb?.username,
    OOSE_COUCHDB__PASSWORD: secrets.couchdb?.password,
    OOSE_REDIS__URL: at.redis.url,
    OOSE_REDIS__SENTINELS: at.redis.sentinels && JSON.stringify(at.redis.sentinels),
    OOSE_REDIS__NAME: spec.redis.name,
    OOSE_REDIS__PASSWORD: secrets.redisPassword,
    OOSE_AUTH__PRISM__USERNAME: secrets.prismAuth.username,
    OOSE_AUTH__PRISM__PASSWORD: secrets.prismAuth.password,
    OOSE_AUTH__STORE__USERNAME: secrets.storeAuth.username,
    OOSE_AUTH__STORE__PASSWORD: secrets.storeAuth.password,
    OOSE_SIGNING_KEY: secrets.signingKey,
    OOSE_TLS__PEM: tls?.pem,
    OOSE_TLS__CERT: tls?.cert,
    OOSE_TLS__KEY: tls?.key,
    OOSE_TLS__CA: tls?.ca,
    // A store's commits wait on fsyncs in libuv's pool; its default 4 threads queue every other disk call behind them.
    UV_THREADPOOL_SIZE: node.role === "store" ? "32" : undefined,
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

import { isIP } from "node:net";
import type { Endpoint } from "../app/topology/env.js";

// redis.conf and sentinel.conf for both renderers: the containers of the
// deployment and the processes of the local cluster. In containers every node
// announces the address the others reach it by (a fixed address on one host,
// host address and published port across hosts, a pod's name on Kubernetes),
// and Sentinel hands those to clients; on loopback the addresses are used as
// they are. Sentinel resolves names only when it is given one: it does so in
// its event loop, where a slow DNS answer stalls it.
// With `tls`, the port is TLS only (port 0 closes the plain one), replication
// and Sentinel's links to every instance included; clients prove themselves
// with the password, not a certificate.

/** Files as the server sees them: its certificate and key, and the cluster CA it checks peers against. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

const listen = (port: number, tls?: TlsFiles) =>
  tls
    ? [
        "port 0",
        `tls-port ${port}`,
        `tls-cert-file ${tls.cert}`,
        `tls-key-file ${tls.key}`,
        `tls-ca-cert-file ${tls.ca}`,
        "tls-auth-clients no",
        "tls-replication yes",
      ]
    : [`port ${port}`];

// Refuses clients off loopback while no password is set. A server that has none
// and must take them (a Sentinel the Kubernetes target renders) goes without.
const protectedMode = (bind: string, password?: string) =>
  `protected-mode ${password || bind === "127.0.0.1" ? "yes" : "no"}`;

export interface RedisNodeConf {
  port: number;
  /** Every interface in a container, loopback locally. */
  bind: string;
  /** Where the append-only file lives: a volume, or a folder kept across local starts. */
  dir: string;
  /** Unset: no auth (a local cluster on loopback). */
  password?: string;
  /** How the others reach this node, when not by its own address. */
  announce?: Endpoint;
  /** Unset for the initial primary. */
  primary?: Endpoint;
  maxMemoryMb?: number;
  tls?: TlsFiles;
  /** Seconds a primary waits for more replicas before a full sync (Redis' default 5; a local cluster takes 0). */
  syncDelaySec?: number;
  /** Container name → fixed address: jobs/redis-start.sh rewrites names kept from an older start to these. */
  addresses?: Record<string, string>;
}

/** Comments the start script reads: a live config from before the fixed addresses names its peers by name. */
const addressLines = (addresses: Record<string, string> = {}) =>
  Object.entries(addresses).map(([name, ip]) => `# oose-address ${name} ${ip}`);

export function redisConf(o: RedisNodeConf): string {
  return [
    ...addressLines(o.addresses),
    ...listen(o.port, o.tls),
    `bind ${o.bind}`,
    protectedMode(o.bind, o.password),
    ...(o.password ? [`requirepass ${o.password}`, `masterauth ${o.password}`] : []),
    `dir ${o.dir}`,
    // Purchases and sessions must survive a restart of the whole set.
    "appendonly yes",
    "appendfsync everysec",
    // Purchase records are never evicted; a full Redis refuses writes (503) instead.
    "maxmemory-policy noeviction",
    ...(o.maxMemoryMb ? [`maxmemory ${Math.floor(o.maxMemoryMb * 0.8)}mb`] : []),
    ...(o.syncDelaySec === undefined ? [] : [`repl-diskless-sync-delay ${o.syncDelaySec}`]),
    ...(o.announce ? [`replica-announce-ip ${o.announce.host}`, `replica-announce-port ${o.announce.port}`] : []),
    ...(o.primary ? [`replicaof ${o.primary.host} ${o.primary.port}`] : []),
    "",
  ].join("\n");
}

export interface SentinelConf {
  port: number;
  bind: string;
  dir: string;
  /** How the others reach this Sentinel (containers); unset: its own address. */
  announce?: Endpoint;
  name: string;
  primary: Endpoint;
  quorum: number;
  /** The monitored Redis's password (`sentinel auth-pass`). */
  password?: string;
  /** Sentinel's own (`requirepass`): clients and the other Sentinels give it. */
  sentinelPassword?: string;
  tls?: TlsFiles;
  /** The deployment's: 5 s to call the primary down, 60 s for a failover. The local cluster fails over faster. */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  addresses?: Record<string, string>;
}

export function sentinelConf(o: SentinelConf): string {
  const { name } = o;
  return [
    ...addressLines(o.addresses),
    ...listen(o.port, o.tls),
    `bind ${o.bind}`,
    protectedMode(o.bind, o.sentinelPassword),
    ...(o.sentinelPassword ? [`requirepass ${o.sentinelPassword}`] : []),
    `dir ${o.dir}`,
    ...(o.announce && isIP(o.announce.host) === 0
      ? ["sentinel resolve-hostnames yes", "sentinel announce-hostnames yes"]
      : ["sentinel resolve-hostnames no"]),
    ...(o.announce ? [`sentinel announce-ip ${o.announce.host}`, `sentinel announce-port ${o.announce.port}`] : []),
    `sentinel monitor ${name} ${o.primary.host} ${o.primary.port} ${o.quorum}`,
    ...(o.password ? [`sentinel auth-pass ${name} ${o.password}`] : []),
    `sentinel down-after-milliseconds ${name} ${o.downAfterMs ?? 5000}`,
    `sentinel failover-timeout ${name} ${o.failoverTimeoutMs ?? 60_000}`,
    `sentinel parallel-syncs ${name} 1`,
    "",
  ].join("\n");
}

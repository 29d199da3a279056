import type { Endpoint } from "../../app/topology/env.js";

// Generated redis.conf and sentinel.conf. Every node announces the address the
// others reach it by (container name on one host, host address and published
// port across hosts), and Sentinel hands those names to clients.

export interface RedisNodeConf {
  port: number;
  announce: Endpoint;
  password: string;
  /** Unset for the initial primary. */
  primary?: Endpoint;
  maxMemoryMb?: number;
}

/** How a Redis data node keeps its data: the deployment and the local cluster share these lines. */
export function redisDurability(dir: string): string[] {
  return [
    `dir ${dir}`,
    // Purchases and sessions must survive a restart of the whole set.
    "appendonly yes",
    "appendfsync everysec",
    // Purchase records are never evicted; a full Redis refuses writes (503) instead.
    "maxmemory-policy noeviction",
  ];
}

export function redisConf(o: RedisNodeConf): string {
  return [
    `port ${o.port}`,
    "bind 0.0.0.0",
    "protected-mode no",
    `requirepass ${o.password}`,
    `masterauth ${o.password}`,
    ...redisDurability("/data"),
    ...(o.maxMemoryMb ? [`maxmemory ${Math.floor(o.maxMemoryMb * 0.8)}mb`] : []),
    `replica-announce-ip ${o.announce.host}`,
    `replica-announce-port ${o.announce.port}`,
    ...(o.primary ? [`replicaof ${o.primary.host} ${o.primary.port}`] : []),
    "",
  ].join("\n");
}

export interface SentinelConf {
  port: number;
  announce: Endpoint;
  name: string;
  primary: Endpoint;
  quorum: number;
  password: string;
}

export function sentinelConf(o: SentinelConf): string {
  return [
    `port ${o.port}`,
    "bind 0.0.0.0",
    "protected-mode no",
    "dir /data",
    "sentinel resolve-hostnames yes",
    "sentinel announce-hostnames yes",
    `sentinel announce-ip ${o.announce.host}`,
    `sentinel announce-port ${o.announce.port}`,
    `sentinel monitor ${o.name} ${o.primary.host} ${o.primary.port} ${o.quorum}`,
    `sentinel auth-pass ${o.name} ${o.password}`,
    `sentinel down-after-milliseconds ${o.name} 5000`,
    `sentinel failover-timeout ${o.name} 60000`,
    `sentinel parallel-syncs ${o.name} 1`,
    "",
  ].join("\n");
}

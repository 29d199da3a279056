import type { Endpoint } from "../app/topology/env.js";
import { block, intToIp } from "./ipv4.js";
import type { Host, StackConfig } from "./stack.js";

// Where every container runs and how the others reach it. On one host that is
// the container's name on the Docker network, except for Redis and the
// Sentinels: they get fixed addresses, since Sentinel resolves names in its
// event loop and a slow DNS answer stalls it into TILT, delaying a failover by
// 30 s. Across hosts it is the host address and a published port. Pure, so
// config validation can run it.

export type Kind = "couchdb" | "redis" | "sentinel" | "prism" | "store" | "storeNginx" | "front";

export interface Service {
  kind: Kind;
  /** Logical name: couchdb1, redis1, sentinel1, a prism or store name, front. */
  name: string;
  host: Host;
  /** Container name, also its DNS name on the host's Docker network. */
  container: string;
  /** Port inside the container. */
  port: number;
  /** Port on the host address, when published. */
  published?: number;
  /** How other containers reach it. */
  reach: Endpoint;
  /** Its fixed address on the host's network (Redis and Sentinels on one host). */
  ip?: string;
}

/** The Docker network of one host: its subnet, and the part Docker hands out to containers without a fixed address. */
export interface HostNetwork {
  subnet: string;
  ipRange: string;
}

export interface Layout {
  multiHost: boolean;
  /** Docker network name, one per host. */
  network: string;
  /** Host name → its network's addressing, where the stack pins addresses (one host). */
  subnets: Record<string, HostNetwork>;
  couchdb: Service[];
  /** The first is the initial primary; Sentinel may promote another later. */
  redis: Service[];
  sentinels: Service[];
  prisms: Service[];
  stores: Service[];
  storeNginx: Service[];
  front?: Service;
  /** Where one-shot jobs (CouchDB setup, migrations) run. */
  jobHost: Host;
  /** The front as clients see it: https://<domain> with TLS. */
  frontUrl?: string;
  /** Base URL of a store's nginx as end users see it: <proto>://<store>.<domain>[:port]. */
  publicUrl(store: string): string;
  /** Base URL of a store's nginx as the other containers reach it. */
  nginxUrl(store: string): string;
}

export type LayoutInput = Pick<
  StackConfig,
  "prefix" | "hosts" | "prisms" | "stores" | "redis" | "couchdb" | "front" | "frontHost" | "ports" | "domain" | "tls"
> &
  Partial<Pick<StackConfig, "storage">>;

export const PORTS = {
  couchdb: 5984,
  redis: 6379,
  sentinel: 26379,
  prism: 5971,
  store: 5972,
  nginx: 8080,
  nginxTls: 8443,
};
/** epmd and CouchDB's Erlang distribution port (fixed by the official image's vm.args). */
export const ERLANG_PORTS = [4369, 9100];

/** The single host's network when the stack names none. */
export const DEFAULT_SUBNET = "10.213.0.0/24";
/** Fixed addresses start here in the subnet (below: the gateway and room for the engine). */
const FIRST_PINNED = 10;

/** The subnet's lower half holds fixed addresses; Docker hands out the upper half. */
export function hostNetwork(
  subnet: string,
): HostNetwork & { pinned: (i: number) => string; room: number; dynamic: number } {
  const { base, size, bits } = block(subnet);
  return {
    subnet: `${intToIp(base)}/${bits}`,
    ipRange: `${intToIp(base + size / 2)}/${bits + 1}`,
    pinned: (i) => intToIp(base + FIRST_PINNED + i),
    room: size / 2 - FIRST_PINNED,
    // The upper half less its broadcast address.
    dynamic: size / 2 - 1,
  };
}

/** Round-robin over hosts: how CouchDB nodes, Redis nodes and Sentinels are spread. */
const spread = (hosts: string[], i: number) => hosts[i % hosts.length]!;

export function planLayout(cfg: LayoutInput): Layout {
  const multiHost = cfg.hosts.length > 1;
  const host = (name: string) => {
    const h = cfg.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`unknown host ${name}`);
    return h;
  };
  const nginxPort = cfg.tls ? PORTS.nginxTls : PORTS.nginx;
  const bases: Record<Kind, number> = {
    couchdb: cfg.ports.couchdb,
    redis: cfg.ports.redis,
    sentinel: cfg.ports.sentinel,
    prism: cfg.ports.prism,
    store: cfg.ports.store,
    storeNginx: cfg.ports.storeNginx ?? (cfg.tls ? 8443 : 8080),
    front: cfg.ports.front ?? (cfg.tls ? 443 : 80),
  };
  // On one host only what end users hit is published: store nginx and the front (or prisms without a front).
  const publish = (kind: Kind) =>
    multiHost || kind === "storeNginx" || kind === "front" || (kind === "prism" && !cfg.front);
  const slots = new Map<string, number>();
  const only = cfg.hosts[0]!;
  const net = multiHost ? undefined : hostNetwork(only.subnet ?? DEFAULT_SUBNET);
  let pins = 0;
  const service = (kind: Kind, name: string, hostName: string, port: number, container: string): Service => {
    const h = host(hostName);
    let published: number | undefined;
    if (publish(kind)) {
      const slot = slots.get(`${hostName}/${kind}`) ?? 0;
      slots.set(`${hostName}/${kind}`, slot + 1);
      published = bases[kind] + slot;
    }
    if (multiHost)
      return { kind, name, host: h, container, port, published, reach: { host: h.address, port: published! } };
    const ip = net && (kind === "redis" || kind === "sentinel") ? net.pinned(pins++) : undefined;
    return {
      kind,
      name,
      host: h,
      container,
      port,
      published,
      reach: { host: ip ?? container, port },
      ...(ip ? { ip } : {}),
    };
  };
  const c = (name: string) => `${cfg.prefix}-${name}`;
  const all = cfg.hosts.map((h) => h.name);
  const couchHosts = cfg.couchdb.hosts ?? all;
  const redisHosts = cfg.redis.hosts ?? all;
  const count = (n: number) => Array.from({ length: n }, (_, i) => i);

  const couchdb = count(cfg.couchdb.nodes).map((i) =>
    service("couchdb", `couchdb${i + 1}`, spread(couchHosts, i), PORTS.couchdb, c(`couchdb${i + 1}`)),
  );
  const redis = count(1 + cfg.redis.replicas).map((i) =>
    service("redis", `redis${i + 1}`, spread(redisHosts, i), PORTS.redis, c(`redis${i + 1}`)),
  );
  const sentinels = count(cfg.redis.sentinels).map((i) =>
    service("sentinel", `sentinel${i + 1}`, spread(redisHosts, i), PORTS.sentinel, c(`sentinel${i + 1}`)),
  );
  const prisms = cfg.prisms.map((p) => service("prism", p.name, p.host, PORTS.prism, c(p.name)));
  const stores = cfg.stores.map((s) => service("store", s.name, s.host, PORTS.store, c(s.name)));
  const storeNginx = cfg.stores.map((s) => service("storeNginx", s.name, s.host, nginxPort, c(`${s.name}-nginx`)));
  const frontHost = cfg.frontHost ?? cfg.prisms[0]!.host;
  const front = cfg.front ? service("front", "front", frontHost, nginxPort, c("front")) : undefined;

  // What end users type: the default port of the scheme is left out.
  const external = (hostname: string, port: number | undefined) =>
    `${cfg.tls ? "https" : "http"}://${hostname}${port === (cfg.tls ? 443 : 80) ? "" : `:${port}`}`;
  return {
    multiHost,
    network: cfg.prefix,
    subnets: net ? { [only.name]: { subnet: net.subnet, ipRange: net.ipRange } } : {},
    couchdb,
    redis,
    sentinels,
    prisms,
    stores,
    storeNginx,
    front,
    jobHost: host(cfg.prisms[0]!.host),
    frontUrl: front && external(cfg.domain, front.published),
    nginxUrl(store) {
      const s = storeNginx.find((n) => n.name === store);
      if (!s) throw new Error(`unknown store ${store}`);
      return `${cfg.tls ? "https" : "http"}://${s.reach.host}:${s.reach.port}`;
    },
    publicUrl(store) {
      const s = storeNginx.find((n) => n.name === store);
      if (!s) throw new Error(`unknown store ${store}`);
      return external(`${store}.${cfg.domain}`, s.published);
    },
  };
}

export const services = (l: Layout): Service[] => [
  ...l.couchdb,
  ...l.redis,
  ...l.sentinels,
  ...l.prisms,
  ...l.stores,
  ...l.storeNginx,
  ...(l.front ? [l.front] : []),
];

/** Placements the schema cannot rule out: clashing ports or names, CouchDB replicas sharing a host. */
export function layoutProblems(cfg: LayoutInput): string[] {
  const l = planLayout(cfg);
  const problems: string[] = [];
  const used = new Map<string, string>();
  const claim = (host: string, port: number, what: string) => {
    if (port > 65535) problems.push(`${what}: published port ${port} is out of range`);
    const prior = used.get(`${host}:${port}`);
    if (prior) problems.push(`host ${host}: port ${port} is published by both ${prior} and ${what} (see ports)`);
    used.set(`${host}:${port}`, what);
  };
  const names = new Set<string>();
  for (const s of services(l)) {
    if (names.has(s.container)) problems.push(`container name ${s.container} is used twice; rename the node`);
    names.add(s.container);
    if (s.published !== undefined) claim(s.host.name, s.published, `${s.kind} ${s.name}`);
  }
  if (l.multiHost && l.couchdb.length > 1) {
    const hosts = new Set(l.couchdb.map((s) => s.host.name));
    if (hosts.size < l.couchdb.length)
      problems.push(`couchdb: ${l.couchdb.length} nodes need as many distinct hosts (couchdb.hosts or hosts)`);
    for (const s of l.couchdb) {
      for (const p of ERLANG_PORTS) claim(s.host.name, p, `couchdb ${s.name} (erlang)`);
      // Erlang long node names are couchdb@<address>, and need a dot in it.
      if (!s.host.address.includes("."))
        problems.push(`hosts ${s.host.name}: address needs a dot (IP or FQDN) for CouchDB`);
    }
  }
  problems.push(...subnetProblems(cfg, l));
  problems.push(...hostProblems(cfg));
  return [...new Set(problems)];
}

/** Containers beside the services on the one host: the CouchDB setup and migration jobs, Prometheus, Grafana. */
const OTHER_CONTAINERS = 4;

/** One host's subnet holds the fixed addresses and every other container; across hosts none is set. */
function subnetProblems(cfg: LayoutInput, l: Layout): string[] {
  if (l.multiHost)
    return cfg.hosts
      .filter((h) => h.subnet)
      .map((h) => `hosts ${h.name}: subnet is for one host; across hosts the nodes meet at host addresses`);
  const net = hostNetwork(cfg.hosts[0]!.subnet ?? DEFAULT_SUBNET);
  const pinned = [...l.redis, ...l.sentinels].length;
  const others = services(l).length - pinned + OTHER_CONTAINERS;
  const at = `hosts ${cfg.hosts[0]!.name}: subnet has room for`;
  return [
    ...(pinned > net.room ? [`${at} ${net.room} Redis and Sentinel addresses, not ${pinned}`] : []),
    ...(others > net.dynamic ? [`${at} ${net.dynamic} other containers, not ${others}`] : []),
  ];
}

/** Published ports bind to an IP: a host named by DNS needs its bindAddress. Storage names real stores. */
function hostProblems(cfg: LayoutInput): string[] {
  const problems: string[] = [];
  for (const h of cfg.hosts)
    if (!h.bindAddress && !/^\d{1,3}(\.\d{1,3}){3}$/.test(h.address))
      problems.push(`hosts ${h.name}: address ${h.address} is a name; set bindAddress to the interface to publish on`);
  for (const [store, s] of Object.entries(cfg.storage ?? {})) {
    if (!cfg.stores.some((x) => x.name === store)) problems.push(`storage.${store}: no such store`);
    if (s.hostPath && s.volume) problems.push(`storage.${store}: set hostPath or volume, not both`);
  }
  return problems;
}

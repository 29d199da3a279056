import * as pulumi from "@pulumi/pulumi";
import { type Static, type TSchema, Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseValue } from "../app/config.js";
import { SIGNING_KEY_PATTERN } from "../app/core/signing.js";
import { ClusterSpecSchema, checkSpec } from "../app/topology/model.js";
import { VERSION } from "../app/version.js";
import { ERLANG_PORTS, layoutProblems, planLayout, services } from "./layout.js";

// The stack configuration: the topology's own schema plus where it runs.
// Every `oose:*` key is read raw and validated here, so a typo or a bad value
// fails `pulumi up` with the full list of problems before any resource exists.

const NAME = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
const Port = (dflt?: number) => T.Integer({ minimum: 1, maximum: 65535, ...(dflt ? { default: dflt } : {}) });
const Limit = T.Object(
  { memoryMb: T.Optional(T.Integer({ minimum: 32 })), cpus: T.Optional(T.Number({ exclusiveMinimum: 0 })) },
  { default: {} },
);

export const HostSchema = T.Object({
  name: T.String({ pattern: NAME }),
  /** The Docker daemon: ssh://user@host, tcp://host:2376 or unix:///var/run/docker.sock. */
  docker: T.String({ pattern: "^(ssh|tcp|unix)://" }),
  /** How other hosts and end users reach this host's published ports: an IPv4 address or a DNS name. */
  address: T.String({ pattern: "^[A-Za-z0-9.-]+$" }),
  sshOpts: T.Optional(T.Array(T.String())),
});

// Passwords land in redis.conf, URLs and JSON: no whitespace, quotes or backslashes.
const Password = T.Optional(T.String({ pattern: "^[^\\s\"'\\\\]{12,}$" }));
const SecretsSchema = T.Object({
  couchdbPassword: Password,
  prismPassword: Password,
  storePassword: Password,
  // Pasted into nginx's secure_link_md5, so it is held to the app's key alphabet.
  signingKey: T.Optional(T.String({ pattern: SIGNING_KEY_PATTERN.source })),
  redisPassword: Password,
  tlsCert: T.Optional(T.String({ pattern: "BEGIN CERTIFICATE" })),
  tlsKey: T.Optional(T.String({ pattern: "PRIVATE KEY" })),
  registryPassword: T.Optional(T.String({ minLength: 1 })),
});
/** Stack keys holding secrets: set them with `pulumi config set --secret`; missing ones are generated. */
export type SecretKey = keyof Static<typeof SecretsSchema>;
export const SECRET_KEYS = Object.keys(SecretsSchema.properties) as SecretKey[];

const SettingsSchema = T.Object({
  /** Prefix of container, volume and network names; unique per Docker host. */
  prefix: T.String({ pattern: NAME, default: "oose" }),
  hosts: T.Array(HostSchema, { minItems: 1 }),
  /** Host of the front nginx (default: the first prism's host). */
  frontHost: T.Optional(T.String({ pattern: NAME })),
  auth: T.Object(
    {
      prism: T.String({ minLength: 1, default: "prism" }),
      store: T.String({ minLength: 1, default: "store" }),
      couchdb: T.String({ minLength: 1, default: "admin" }),
    },
    { default: {} },
  ),
  images: T.Object(
    {
      app: T.String({ minLength: 1, default: `oose:${VERSION}` }),
      couchdb: T.String({ minLength: 1, default: "couchdb:3.4.2" }),
      redis: T.String({ minLength: 1, default: "redis:7.4.2-alpine" }),
      nginx: T.String({ minLength: 1, default: "nginx:1.27.4-alpine" }),
      prometheus: T.String({ minLength: 1, default: "prom/prometheus:v2.55.1" }),
      grafana: T.String({ minLength: 1, default: "grafana/grafana:11.6.1" }),
      /** Build once, push here and pull on every host; without it the app image is built on each host. */
      registry: T.Optional(T.Object({ server: T.String({ minLength: 1 }), username: T.String({ minLength: 1 }) })),
    },
    { default: {} },
  ),
  /** Host ports: the nth node of a kind on a host publishes base + n. */
  ports: T.Object(
    {
      prism: Port(5971),
      store: Port(5972),
      storeNginx: T.Optional(Port()),
      front: T.Optional(Port()),
      couchdb: Port(5984),
      redis: Port(6379),
      sentinel: Port(26379),
    },
    { default: {} },
  ),
  limits: T.Object(
    {
      prism: Limit,
      store: Limit,
      nginx: Limit,
      couchdb: Limit,
      redis: Limit,
      sentinel: Limit,
      prometheus: Limit,
      grafana: Limit,
    },
    { default: {} },
  ),
  /** Prometheus (scraping every node, with monitoring/rules.yml) and Grafana (monitoring/dashboard.json). */
  monitoring: T.Object(
    {
      enabled: T.Boolean({ default: false }),
      /** Where both run (default: the first prism's host). */
      host: T.Optional(T.String({ pattern: NAME })),
      /** The host address their ports are published on; Prometheus has no login, so loopback by default. */
      bindAddress: T.String({ pattern: "^\\d{1,3}(\\.\\d{1,3}){3}$", default: "127.0.0.1" }),
      prometheusPort: Port(9090),
      grafanaPort: Port(3000),
      /** How long Prometheus keeps samples (its --storage.tsdb.retention.time). */
      retention: T.String({ pattern: "^\\d+(ms|s|m|h|d|w|y)$", default: "15d" }),
    },
    { default: {} },
  ),
});

export const StackSchema = T.Composite([ClusterSpecSchema, SettingsSchema, SecretsSchema]);

type Parsed = Static<typeof StackSchema>;
export type Host = Static<typeof HostSchema>;
export type Limits = Parsed["limits"];
export type StackConfig = Omit<Parsed, SecretKey> & {
  /** Secrets given in the stack config, already wrapped as secret Outputs. */
  secrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
  /** Whether TLS cert and key are configured (they are secrets, so only their presence is plain). */
  tls: boolean;
};

export class StackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "StackConfigError";
  }
}

const pathOf = (p: string) =>
  p
    .replace(/^\//, "")
    .replace(/\/(\d+)/g, "[$1]")
    .replaceAll("/", ".") || "(root)";

// A misspelt key would otherwise be ignored silently, at any depth.
function unknownKeys(schema: TSchema, value: unknown, at: string, out: string[]): void {
  if (Array.isArray(value) && schema.items) {
    for (const [i, v] of value.entries()) unknownKeys(schema.items, v, `${at}/${i}`, out);
  }
  if (!schema.properties || typeof value !== "object" || value === null || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const sub = schema.properties[key] as TSchema | undefined;
    if (!sub) out.push(`${pathOf(`${at}/${key}`)}: unknown key`);
    else unknownKeys(sub, v, `${at}/${key}`, out);
  }
}

/** Validates raw `oose:*` values (keys without the namespace); throws StackConfigError listing every problem. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
  const value = Value.Convert(StackSchema, Value.Default(StackSchema, structuredClone(raw)));
  const byPath = new Map<string, string>();
  for (const e of Value.Errors(StackSchema, value)) {
    const key = pathOf(e.path);
    if (!byPath.has(key)) byPath.set(key, `${key}: ${e.message}`);
  }
  const problems = [...byPath.values()];
  unknownKeys(StackSchema, value, "", problems);
  if (problems.length > 0) throw new StackConfigError([...new Set(problems)]);

  const parsed = value as Parsed;
  const secrets: StackConfig["secrets"] = {};
  const settings: Record<string, unknown> = { ...parsed };
  for (const key of SECRET_KEYS) {
    const v = parsed[key];
    delete settings[key];
    if (v !== undefined) secrets[key] = pulumi.secret(v);
  }
  const cfg = { ...(settings as Omit<Parsed, SecretKey>), secrets, tls: Boolean(parsed.tlsCert && parsed.tlsKey) };
  const semantic = [...checkSpec(cfg), ...checkPlacement(cfg, parsed)];
  // The layout needs every host to exist, so it is checked once the rest holds.
  if (semantic.length === 0) semantic.push(...layoutProblems(cfg), ...monitoringProblems(cfg));
  if (semantic.length > 0) throw new StackConfigError(semantic);
  return cfg;
}

/** Problems that need the whole config: hosts that exist, distinct names, TLS pairs. */
function checkPlacement(cfg: Omit<StackConfig, "tls">, parsed: Parsed): string[] {
  const problems: string[] = [];
  const hosts = new Set<string>();
  for (const h of cfg.hosts) {
    if (hosts.has(h.name)) problems.push(`hosts: ${h.name} is listed twice`);
    hosts.add(h.name);
  }
  const refs: [string, string | undefined][] = [
    ...cfg.prisms.map((p, i): [string, string] => [`prisms[${i}].host`, p.host]),
    ...cfg.stores.map((s, i): [string, string] => [`stores[${i}].host`, s.host]),
    ...(cfg.redis.hosts ?? []).map((h, i): [string, string] => [`redis.hosts[${i}]`, h]),
    ...(cfg.couchdb.hosts ?? []).map((h, i): [string, string] => [`couchdb.hosts[${i}]`, h]),
    ["frontHost", cfg.frontHost],
    ["monitoring.host", cfg.monitoring.host],
  ];
  for (const [what, host] of refs) {
    if (host !== undefined && !hosts.has(host)) problems.push(`${what}: unknown host ${host}`);
  }
  if (Boolean(parsed.tlsCert) !== Boolean(parsed.tlsKey)) problems.push("tlsCert and tlsKey: set both or neither");
  if (parsed.registryPassword && !cfg.images.registry) problems.push("registryPassword: set images.registry too");
  return problems;
}

/** Where Prometheus and Grafana run. */
export const monitoringHost = (cfg: Pick<StackConfig, "monitoring" | "prisms">) =>
  cfg.monitoring.host ?? cfg.prisms[0]!.host;

/** Prometheus and Grafana publish their ports on the monitoring host: not on a port the cluster publishes there. */
function monitoringProblems(cfg: StackConfig): string[] {
  const m = cfg.monitoring;
  if (!m.enabled) return [];
  const layout = planLayout(cfg);
  const host = monitoringHost(cfg);
  const used = new Map<number, string>();
  for (const s of services(layout))
    if (s.host.name === host && s.published !== undefined) used.set(s.published, `${s.kind} ${s.name}`);
  if (layout.multiHost && layout.couchdb.length > 1 && layout.couchdb.some((s) => s.host.name === host))
    for (const p of ERLANG_PORTS) used.set(p, "couchdb (erlang)");
  const problems: string[] = [];
  for (const kind of ["prometheus", "grafana"]) {
    const container = `${cfg.prefix}-${kind}`;
    if (services(layout).some((s) => s.container === container))
      problems.push(`monitoring: container name ${container} is taken by a node; rename the node`);
  }
  for (const [key, port] of [
    ["prometheusPort", m.prometheusPort],
    ["grafanaPort", m.grafanaPort],
  ] as const) {
    const prior = used.get(port);
    if (prior) problems.push(`monitoring.${key}: port ${port} is published by ${prior} on host ${host}`);
    used.set(port, `monitoring.${key}`);
  }
  return problems;
}

/** Reads every `<project>:*` key of the current stack and validates it. */
export function readStackConfig(project = pulumi.getProject()): StackConfig {
  const ns = `${project}:`;
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(ns)) raw[key.slice(ns.length)] = parseValue(value);
  }
  return parseStackConfig(raw);
}

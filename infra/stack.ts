import type * as pulumi from "@pulumi/pulumi";
import { type Static, Type as T } from "@sinclair/typebox";
import { LABEL_PATTERN } from "../app/config.js";
import { SIGNING_KEY_PATTERN } from "../app/core/signing.js";
import { ClusterSpecSchema } from "../app/topology/model.js";
import { VERSION } from "../app/version.js";

// The stack configuration's shape: the topology's own schema plus where it
// runs (hosts, images, ports, limits, monitoring) and the secrets. Read and
// checked by config.ts; the layout and the components take its types.

const NAME = LABEL_PATTERN;
const IPV4 = "^\\d{1,3}(\\.\\d{1,3}){3}$";
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
  /**
   * The address this host's published ports bind to: a private interface (default: `address`, which must
   * then be an IP). Docker's published ports bypass host firewalls such as ufw; 0.0.0.0 only when set.
   */
  bindAddress: T.Optional(T.String({ pattern: IPV4 })),
  /**
   * The subnet of this host's Docker network (/16 to /28). On one host Redis and the Sentinels get fixed
   * addresses in its lower half, so Sentinel never resolves a name; other containers take the upper half.
   */
  subnet: T.Optional(T.String({ pattern: "^\\d{1,3}(\\.\\d{1,3}){3}/(1[6-9]|2[0-8])$" })),
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
  /**
   * Per store: `hostPath`, a disk's mount point on its host, instead of a named volume (the store then reports
   * that disk's free space); `volume`, the Docker volume to keep using (e.g. its name before a prefix change);
   * `renamedFrom`, the store's name in the stack before, so its resources keep their state.
   */
  storage: T.Record(
    T.String({ pattern: NAME }),
    T.Object({
      hostPath: T.Optional(T.String({ pattern: "^/[^\\s:,]*$" })),
      volume: T.Optional(T.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$" })),
      renamedFrom: T.Optional(T.String({ pattern: NAME })),
    }),
    { default: {} },
  ),
  /** The Docker log driver of every container (e.g. json-file with max-size); unset: each host's default. */
  logging: T.Optional(
    T.Object({ driver: T.String({ minLength: 1 }), options: T.Optional(T.Record(T.String(), T.String())) }),
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

export type Parsed = Static<typeof StackSchema>;
export type Host = Static<typeof HostSchema>;
export type Limits = Parsed["limits"];
export type StackConfig = Omit<Parsed, SecretKey> & {
  /** Secrets given in the stack config, already wrapped as secret Outputs. */
  secrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
  /** Whether TLS cert and key are configured (they are secrets, so only their presence is plain). */
  tls: boolean;
};

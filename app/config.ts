import { readFileSync } from "node:fs";
import { type Static, type TSchema, Type as T } from "@sinclair/typebox";
import { envName, envToObject } from "./config-env.js";
import { Value } from "@sinclair/typebox/value";
import { HASH_TYPE_NAMES } from "./core/hash.js";
import { STATIC_TYPE_PATTERN } from "./core/static-types.js";
import { AccessLog, Clonetool, Heal, Heartbeat, Hot, Inventory, Ms, Probe, Repair, Scrub } from "./config-jobs.js";
import { TlsSchema, tlsProblems } from "./tls.js";

// One schema → validation + types. Values come from an optional JSON file
// (OOSE_CONFIG) and OOSE_* environment variables; `__` nests, e.g.
// OOSE_COUCHDB__URL or OOSE_HEARTBEAT__FREQUENCY.

/** A DNS label: node names (a store's is its nginx's host name) and the cluster's other names. */
export const LABEL_PATTERN = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
export const Label = T.String({ pattern: LABEL_PATTERN });
export const Credentials = T.Object({ username: T.String({ minLength: 1 }), password: T.String({ minLength: 1 }) });
export type Credentials = Static<typeof Credentials>;
const HostPort = T.Object({ host: T.String({ minLength: 1 }), port: T.Integer({ minimum: 1, maximum: 65535 }) });

export const ConfigSchema = T.Object({
  role: T.Union([T.Literal("prism"), T.Literal("store")]),
  /** Node name; for a store this is also the DNS label of its nginx. Unique cluster-wide. */
  name: Label,
  /** Parent prism of a store (the `<prism>` in `store:<prism>:<name>`); a prism's own name for prisms. */
  prism: T.Optional(Label),
  site: T.String({ default: "local" }),
  zone: T.String({ default: "zone1" }),
  host: T.String({ default: "localhost" }),
  domain: T.String({ default: "localhost" }),
  listen: T.Object(
    { host: T.String({ default: "127.0.0.1" }), port: T.Optional(T.Integer({ minimum: 0, maximum: 65535 })) },
    { default: {} },
  ),
  /** The URL peers use to reach this node's API (never 0.0.0.0; OOSE advertised its bind address). */
  advertiseUrl: T.String({ pattern: "^https?://" }),
  /** Store only: base URL of its nginx as end users see it; defaults to `<proto>://<name>.<domain>`. */
  publicUrl: T.Optional(T.String({ pattern: "^https?://" })),
  /**
   * Store only: base URL of its nginx as prisms reach it, for their probes, when that is not the public URL
   * (inside a Docker network the public name may not resolve, or not lead back in). Defaults to publicUrl.
   */
  nginxUrl: T.Optional(T.String({ pattern: "^https?://" })),
  dataRoot: T.String({ minLength: 1 }),
  /** Prism only: API processes sharing the port (OOSE's workers.count); a store refuses more than 1. */
  workers: T.Integer({ minimum: 1, maximum: 64, default: 1 }),
  /** Which of them this process is; set by the supervisor. Worker 1 does the node-wide work. */
  worker: T.Integer({ minimum: 1, default: 1 }),
  couchdb: T.Object({
    url: T.String({ pattern: "^https?://" }),
    username: T.Optional(T.String()),
    password: T.Optional(T.String()),
    database: T.String({ default: "oose" }),
    /** The CA file an https:// CouchDB is verified against alone (unset: the system's CAs). */
    ca: T.Optional(T.String({ minLength: 1 })),
    timeoutMs: Ms(5000),
    /** Inventory writes share `_bulk_docs` requests (group commit). */
    batch: T.Object(
      {
        /** Docs in one request. */
        maxDocs: T.Integer({ minimum: 1, default: 200 }),
        /** Changes waiting for a request; writers past it wait. */
        maxQueue: T.Integer({ minimum: 1, default: 5000 }),
        /** How long an idle writer waits for more changes before it sends (0: send at once). */
        windowMs: Ms(0),
      },
      { default: {} },
    ),
  }),
  redis: T.Object({
    url: T.Optional(T.String({ pattern: "^rediss?://" })),
    sentinels: T.Optional(T.Array(HostPort, { minItems: 1 })),
    name: T.String({ default: "oose" }),
    password: T.Optional(T.String()),
    /** The Sentinels' own password (their requirepass). */
    sentinelPassword: T.Optional(T.String()),
    /**
     * TLS to the Sentinels and to the Redis they name, verified against the CA file `ca` alone.
     * A `rediss://` url uses it too.
     */
    tls: T.Optional(T.Object({ ca: T.String({ minLength: 1 }) })),
    db: T.Integer({ minimum: 0, default: 0 }),
    prefix: T.String({ default: "oose" }),
    commandTimeoutMs: Ms(2000),
  }),
  purchase: T.Object(
    {
      life: Ms(7_200_000),
      afterlife: Ms(7_200_000),
      maxLife: Ms(31_536_000_000),
      signedUrlLife: Ms(60_000),
      /** Replicas that must hold a purchase before it is acknowledged (Redis WAIT); 0 for a lone Redis. */
      waitReplicas: T.Integer({ minimum: 0, default: 1 }),
      waitTimeoutMs: Ms(1000),
      /** A prism's in-memory copy of a purchase lives this long; removals and updates are announced. */
      cacheLife: Ms(5000),
    },
    { default: {} },
  ),
  session: T.Object({ life: Ms(86_400_000) }, { default: {} }),
  /** Prism: failed logins allowed per window, per client address and per user name; past them, 429. */
  login: T.Object(
    {
      window: T.Integer({ minimum: 1000, default: 60_000 }),
      perAddress: T.Integer({ minimum: 1, default: 30 }),
      perUser: T.Integer({ minimum: 1, default: 10 }),
    },
    { default: {} },
  ),
  heartbeat: Heartbeat,
  probe: Probe,
  repair: Repair,
  heal: Heal,
  scrub: Scrub,
  accessLog: AccessLog,
  existsCacheLife: Ms(30_000),
  /**
   * Every node: GET /metrics (Prometheus text) on the API port, behind the node's own basic auth (prism auth on
   * prisms, store auth on stores). Off: no /metrics (404) and no timing on any request.
   */
  metrics: T.Object({ enabled: T.Boolean({ default: true }) }, { default: {} }),
  /**
   * Prism: the share of delivery decisions (token, hash, chosen store, status) logged at info level, 0..1.
   * All by default: the log is what answers "who was sent where" in a dispute; lower it on a busy prism.
   */
  deliveryLog: T.Object({ sample: T.Number({ minimum: 0, maximum: 1, default: 1 }) }, { default: {} }),
  /**
   * Types `/static/` never serves: extensions and MIME classes (`video/*`). Static links never expire, so by
   * default every audio and video type is purchase-only, and the media extensions no MIME class names.
   */
  denyStaticTypes: T.Array(T.String({ pattern: STATIC_TYPE_PATTERN }), {
    default: ["audio/*", "video/*", ..."ac3 ape dv moov mpc mxf ogm rm rmvb wv".split(" ")],
  }),
  defaultHashType: T.Union(
    HASH_TYPE_NAMES.map((h) => T.Literal(h)),
    { default: "sha1" },
  ),
  replicas: T.Integer({ minimum: 1, default: 2 }),
  /**
   * Prism: how stores equal on failure domains are ranked for new copies (app/core/placement.ts). A store scores
   * its free space as a share of the roomiest one's, less `loadWeight` for each transfer in flight to it.
   */
  placement: T.Object(
    {
      /** What one transfer in flight costs, in shares of free space. */
      loadWeight: T.Number({ minimum: 0, default: 0.25 }),
      /** The space share counted for a store whose free space is not known. */
      unknownFree: T.Number({ minimum: 0, maximum: 1, default: 0.5 }),
    },
    { default: {} },
  ),
  limits: T.Object(
    {
      uploadMaxBytes: T.Integer({ minimum: 1, default: 2 * 1024 ** 4 }),
      bulkMax: T.Integer({ minimum: 1, default: 1000 }),
      requestTimeoutMs: Ms(30_000),
      /** Prism: an upload that sends no byte for this long is refused (400); under requestTimeoutMs, so the stores are not blamed. */
      clientIdleMs: Ms(20_000),
      /** Store: a staged upload nobody commits or aborts is dropped after this long. */
      stageLife: Ms(900_000),
      /** Prism: how long a store may take to answer a download before the next holder is tried. */
      failoverTimeoutMs: Ms(5000),
      /** Prism: how often an upload checks whether a store it streams to has turned suspect, to give up on it. */
      suspectPollMs: T.Integer({ minimum: 10, default: 100 }),
      /** Every node: the request line and headers must arrive within this. */
      headersTimeoutMs: Ms(10_000),
      /** Every node: an idle keep-alive connection is closed after this; above nginx's upstream keep-alive (60 s), so nginx never reuses one being closed. */
      keepAliveTimeoutMs: Ms(72_000),
      /** Every node: a client that sends nothing of its request for this long is cut off; above clientIdleMs, so an upload gets its 400 first. */
      bodyIdleMs: Ms(30_000),
      /** Every node: a JSON or text body (parsed whole, under 1 MB) must arrive in full within this, so a dripping body is cut off. */
      bodyTimeoutMs: Ms(10_000),
      /** Every node: a cap on a whole request; 0 (off) by default, as an upload of a large file is long but never idle. */
      wholeRequestMs: Ms(0),
      /** Every node: open connections (per process); more are closed at once. */
      maxConnections: T.Integer({ minimum: 1, default: 4096 }),
      /**
       * Every node: proxies whose X-Forwarded-For names the client (proxy-addr ranges or addresses). The front nginx
       * sits on loopback or a private network; trusting neither would count every client as the front (login limits).
       */
      trustProxy: T.Array(T.String(), { default: ["loopback", "uniquelocal"] }),
    },
    { default: {} },
  ),
  retrieve: T.Object(
    {
      allowPrivate: T.Boolean({ default: false }),
      maxBytes: T.Integer({ minimum: 1, default: 10 * 1024 ** 3 }),
      /** Connecting and the answer's headers. */
      timeoutMs: Ms(60_000),
      /** Longest silence between two chunks of the body; under limits.clientIdleMs, which the placer applies to every source. */
      idleMs: Ms(15_000),
    },
    { default: {} },
  ),
  verifyExpiration: Ms(15_552_000_000),
  inventory: Inventory,
  clonetool: Clonetool,
  hot: Hot,
  auth: T.Object({ prism: Credentials, store: Credentials }),
  /** Key that signs delivery URLs; the store's nginx checks them with secure_link. */
  signingKey: T.String({ minLength: 16 }),
  /** HTTPS on the API port and the cluster CA (app/tls.ts). */
  tls: T.Optional(TlsSchema),
});

export type Config = Static<typeof ConfigSchema> & { prism: string; listen: { host: string; port: number } };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

type DeepPartial<V> = V extends readonly unknown[] ? V : V extends object ? { [K in keyof V]?: DeepPartial<V[K]> } : V;
/** Config values as a renderer sets them: any subset, nested as in the schema. */
export type ConfigValues = DeepPartial<Static<typeof ConfigSchema>>;

/**
 * The OOSE_* variables that set `values`, named from the schema's own keys (a key it lacks throws).
 * Undefined values are left out; arrays and objects that are one value go as JSON.
 */
export function configEnv(values: ConfigValues): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (schema: TSchema, v: Record<string, unknown>, at: string[]) => {
    for (const [key, value] of Object.entries(v)) {
      const sub = (schema.properties as Record<string, TSchema> | undefined)?.[key];
      if (!sub) throw new Error(`configEnv: ${[...at, key].join(".")} is not a config key`);
      if (value === undefined) continue;
      if (sub.properties && typeof value === "object" && value !== null && !Array.isArray(value))
        walk(sub, value as Record<string, unknown>, [...at, key]);
      else out[envName([...at, key])] = typeof value === "string" ? value : JSON.stringify(value);
    }
  };
  walk(ConfigSchema, values as Record<string, unknown>, []);
  return out;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object" && !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Validates raw config; throws ConfigError listing every bad key at once. */
export function parseConfig(raw: Record<string, unknown>): Config {
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, structuredClone(raw)));
  const byKey = new Map<string, string>();
  for (const e of Value.Errors(ConfigSchema, value)) {
    const key = e.path.slice(1).replaceAll("/", ".") || "(root)";
    if (!byKey.has(key)) byKey.set(key, `${key}: ${e.message}`);
  }
  if (byKey.size > 0) throw new ConfigError([...byKey.values()]);
  const config = value as Config;
  if (config.role === "store" && !config.prism) throw new ConfigError(["prism: a store needs its parent prism"]);
  // A store's temp dir, staging and per-hash lock belong to one process: a second worker would break them.
  if (config.role === "store" && config.workers > 1) {
    throw new ConfigError(["workers: a store runs as one process (scale with more stores, not workers)"]);
  }
  if (!config.redis.url && !config.redis.sentinels) throw new ConfigError(["redis: set either url or sentinels"]);
  const tls = tlsProblems(config.tls, config.advertiseUrl);
  if (tls.length > 0) throw new ConfigError(tls);
  // OOSE's ports: 5971 for prisms, 5972 for stores.
  const port = config.listen.port ?? (config.role === "prism" ? 5971 : 5972);
  return { ...config, prism: config.prism ?? config.name, listen: { ...config.listen, port } };
}

/** The JSON file named by OOSE_CONFIG, or {} when none is set. */
export function readConfigFile(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  if (!env.OOSE_CONFIG) return {};
  try {
    return JSON.parse(readFileSync(env.OOSE_CONFIG, "utf8"));
  } catch (err) {
    throw new ConfigError([`OOSE_CONFIG (${env.OOSE_CONFIG}): ${(err as Error).message}`]);
  }
}

/** OOSE_CONFIG merged with OOSE_* (env wins), not yet validated. */
export function rawConfig(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  return merge(readConfigFile(env), envToObject(env));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(rawConfig(env));
}

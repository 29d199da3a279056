import { readFileSync } from "node:fs";
import { type Static, Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { HASH_TYPE_NAMES } from "./core/hash.js";
import { STATIC_TYPE_PATTERN } from "./core/static-types.js";
import { tlsProblems } from "./tls.js";

// One schema → validation + types. Values come from an optional JSON file
// (OOSE_CONFIG) and OOSE_* environment variables; `__` nests, e.g.
// OOSE_COUCHDB__URL or OOSE_HEARTBEAT__FREQUENCY.

const Label = T.String({ pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" });
const Ms = (dflt: number) => T.Integer({ minimum: 0, default: dflt });
const Credentials = T.Object({ username: T.String({ minLength: 1 }), password: T.String({ minLength: 1 }) });
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
    name: T.String({ default: "mymaster" }),
    password: T.Optional(T.String()),
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
  heartbeat: T.Object(
    {
      enabled: T.Boolean({ default: true }),
      startDelay: Ms(5000),
      frequency: Ms(5000),
      jitter: Ms(5000),
      retries: T.Integer({ minimum: 0, default: 3 }),
      concurrency: T.Integer({ minimum: 1, default: 8 }),
      pingTimeout: Ms(2000),
      voteLife: Ms(60_000),
      votePruneFrequency: Ms(60_000),
      peerRefresh: Ms(2000),
      repairAfter: Ms(600_000),
      /** Store: how often it writes its free/total disk space into its peer doc. */
      capacityRefresh: Ms(60_000),
    },
    { default: {} },
  ),
  /**
   * Prism: its own quick check of every store's API (/ping) and nginx (the health file on the disk), apart from
   * the heartbeat's votes. A store that misses one is routed around until it answers again.
   */
  probe: T.Object(
    {
      enabled: T.Boolean({ default: true }),
      interval: T.Integer({ minimum: 100, default: 1000 }),
      /** Each request's deadline; a probe still unanswered at the next interval is not sent twice. */
      timeout: T.Integer({ minimum: 10, default: 500 }),
      /** A health file older than this, by the store's own clock (nginx's Date and Last-Modified), fails: the node cannot write its disk. */
      staleAfter: T.Integer({ minimum: 2000, default: 10_000 }),
      /** Store: how often the node rewrites and fsyncs the health file. */
      diskWrite: T.Integer({ minimum: 100, default: 1000 }),
    },
    { default: {} },
  ),
  /** Prism: re-replication of content held by stores down longer than heartbeat.repairAfter. */
  repair: T.Object(
    {
      enabled: T.Boolean({ default: true }),
      /** How often a prism looks for stores to repair (one prism at a time runs it). */
      interval: Ms(60_000),
      /** Copies made at once. */
      concurrency: T.Integer({ minimum: 1, default: 4 }),
      /** Bytes per second the repair may copy, summed over its transfers; 0 for no cap. */
      bandwidth: T.Integer({ minimum: 0, default: 50 * 1024 ** 2 }),
      /** The runner's lock in Redis lives this long unless renewed. */
      lease: Ms(30_000),
      /** Inventory docs read per CouchDB request. */
      pageSize: T.Integer({ minimum: 1, default: 500 }),
    },
    { default: {} },
  ),
  /** Prism: brings every file with fewer live copies than `replicas` back to count, whatever the cause. */
  heal: T.Object(
    {
      enabled: T.Boolean({ default: true }),
      /** A pass over the whole inventory starts at most this often (one prism at a time runs it). */
      interval: Ms(300_000),
      /** Files healed at once. */
      concurrency: T.Integer({ minimum: 1, default: 4 }),
      /** Bytes per second the heal may copy, summed over its transfers; 0 for no cap. */
      bandwidth: T.Integer({ minimum: 0, default: 50 * 1024 ** 2 }),
      /** Copies younger than this are left alone: their upload may still be landing the others. */
      grace: Ms(120_000),
      /** The runner's lock in Redis lives this long unless renewed. */
      lease: Ms(30_000),
      /** Inventory ids read per CouchDB request. */
      pageSize: T.Integer({ minimum: 1, default: 1000 }),
    },
    { default: {} },
  ),
  /** Store: re-hashes every copy against its content address. */
  scrub: T.Object(
    {
      enabled: T.Boolean({ default: true }),
      /** Every copy is re-hashed when its last verification is older than this (14 days). */
      cadence: Ms(1_209_600_000),
      /** Bytes per second the scrub reads from this store's disk. */
      bytesPerSecond: T.Integer({ minimum: 1, default: 20 * 1024 ** 2 }),
      /** Copies hashed at once, within bytesPerSecond. */
      concurrency: T.Integer({ minimum: 1, default: 4 }),
      /** A pass over the store's inventory starts at most this often. */
      interval: Ms(3_600_000),
      /** Inventory docs read per CouchDB request. */
      pageSize: T.Integer({ minimum: 1, default: 500 }),
    },
    { default: {} },
  ),
  /**
   * Store: its nginx's JSON access log, one file per day (`access-YYYY-MM-DD.log`), named by the date of its
   * lines in nginx's local time. The node follows it for oose_nginx_* metrics, compresses past days and deletes
   * files older than the retention. `oose usage` sums it.
   */
  accessLog: T.Object(
    {
      enabled: T.Boolean({ default: true }),
      /** Folder nginx writes and the node reads (absolute); default `<dataRoot>/access-log`. */
      dir: T.Optional(T.String({ pattern: "^/" })),
      /** Days a file is kept after its last line; 0 keeps them all. */
      retentionDays: T.Integer({ minimum: 0, default: 30 }),
      /** gzip each past day's file. */
      compress: T.Boolean({ default: true }),
      /** How often the node reads new lines. */
      pollMs: T.Integer({ minimum: 10, default: 1000 }),
    },
    { default: {} },
  ),
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
  /** Store tools, `oose inventory scan|verify` (spec §9). */
  inventory: T.Object(
    {
      /** Directory reads, stats, hashes and CouchDB batches in flight. */
      concurrency: T.Integer({ minimum: 1, default: 16 }),
      /** Pause after each batch of files (ms), to spare a busy disk. */
      throttle: Ms(0),
      /** Inventory docs per CouchDB request. */
      batchSize: T.Integer({ minimum: 1, default: 1000 }),
    },
    { default: {} },
  ),
  /** `oose clonetool` (spec §10.2). */
  clonetool: T.Object(
    {
      desired: T.Integer({ minimum: 1, default: 2 }),
      /** Hashes analysed per block. */
      blockSize: T.Integer({ minimum: 1, default: 250 }),
      /** Files acted on at once. */
      concurrency: T.Integer({ minimum: 1, default: 4 }),
      /** Hashes left alone unless --force. */
      hashWhitelist: T.Array(T.String(), { default: [] }),
      /** Stores never trimmed to reach the desired count. */
      storeProtected: T.Array(T.String(), { default: [] }),
    },
    { default: {} },
  ),
  /** Prism: extra copies for content delivered often, removed again once it cools. */
  hot: T.Object(
    {
      enabled: T.Boolean({ default: true }),
      /** The sliding window deliveries are counted over. */
      window: Ms(60_000),
      /** Deliveries within the window that make a hash hot; each further multiple adds a copy. */
      threshold: T.Integer({ minimum: 1, default: 600 }),
      /** Most copies a hot hash gets. */
      maxReplicas: T.Integer({ minimum: 1, default: 4 }),
      /** A hash below the threshold this long loses its extra copies. */
      coolAfter: Ms(900_000),
      /** How often the runner looks for hot and cooled content. */
      interval: Ms(10_000),
      /** The runner's lock in Redis lives this long unless renewed. */
      lease: Ms(30_000),
      /** How often a prism adds its delivery counts to Redis. */
      flushEvery: Ms(1000),
    },
    { default: {} },
  ),
  auth: T.Object({ prism: Credentials, store: Credentials }),
  /** Key that signs delivery URLs; the store's nginx checks them with secure_link. */
  signingKey: T.String({ minLength: 16 }),
  /**
   * HTTPS on the API port: OOSE's single `pem` (key + certificate) or a `cert` + `key` pair.
   * `ca` is the cluster CA: calls to other nodes trust it alone (unset: the system's CAs).
   */
  tls: T.Optional(
    T.Object({
      pem: T.Optional(T.String()),
      cert: T.Optional(T.String()),
      key: T.Optional(T.String()),
      ca: T.Optional(T.String()),
    }),
  ),
});

export type Config = Static<typeof ConfigSchema> & { prism: string; listen: { host: string; port: number } };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

// Only structured values are parsed here; Value.Convert turns "5000" into a number
// where the schema wants one, so a password like "1e3" stays a string.
export function parseValue(raw: string): unknown {
  if (!/^\s*[[{]/.test(raw)) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** OOSE_A__B_C=1 → { a: { bC: 1 } }. JSON values (numbers, arrays, objects) are parsed. */
export function envToObject(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith("OOSE_") || key === "OOSE_CONFIG" || raw === undefined) continue;
    const path = key.slice(5).split("__").map(camel);
    let node = out;
    for (const part of path.slice(0, -1)) {
      node[part] = typeof node[part] === "object" && node[part] !== null ? node[part] : {};
      node = node[part] as Record<string, unknown>;
    }
    node[path.at(-1)!] = parseValue(raw);
  }
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

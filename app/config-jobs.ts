import { Type as T } from "@sinclair/typebox";

// The config sections of the long-running work (app/jobs and the store tools):
// ConfigSchema (app/config.ts) composes them under these keys.

/** A duration or an interval in milliseconds. */
export const Ms = (dflt: number) => T.Integer({ minimum: 0, default: dflt });

export const Heartbeat = T.Object(
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
);

/**
 * Prism: its own quick check of every store's API (/ping) and nginx (the health file on the disk), apart from
 * the heartbeat's votes. A store that misses one is routed around until it answers again.
 */
export const Probe = T.Object(
  {
    enabled: T.Boolean({ default: true }),
    interval: T.Integer({ minimum: 100, default: 1000 }),
    /** Each request's deadline; a probe still unanswered at the next interval is not sent twice. */
    timeout: T.Integer({ minimum: 10, default: 500 }),
    /** A health file older than this, by the store's own clock (nginx's Date and Last-Modified), fails: the node cannot write its disk. */
    staleAfter: T.Integer({ minimum: 2000, default: 10_000 }),
    /** Store: how often the node rewrites and fsyncs the health file. */
    diskWrite: T.Integer({ minimum: 100, default: 1000 }),
    /**
     * Prism: a watch (the idle TCP connection to each store's API and nginx) whose connect takes this long counts
     * as refused: a host that is gone answers nothing at all.
     */
    watchConnectTimeout: T.Integer({ minimum: 10, default: 3000 }),
  },
  { default: {} },
);

/** Prism: re-replication of content held by stores down longer than heartbeat.repairAfter. */
export const Repair = T.Object(
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
);

/** Prism: brings every file with fewer live copies than `replicas` back to count, whatever the cause. */
export const Heal = T.Object(
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
);

/** Store: re-hashes every copy against its content address. */
export const Scrub = T.Object(
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
);

/**
 * Store: its nginx's JSON access log, one file per day (`access-YYYY-MM-DD.log`), named by the date of its
 * lines in nginx's local time. The node follows it for oose_nginx_* metrics, compresses past days and deletes
 * files older than the retention. `oose usage` sums it.
 */
export const AccessLog = T.Object(
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
);

/** Store tools, `oose inventory scan|verify` (spec §9). */
export const Inventory = T.Object(
  {
    /** Directory reads, stats, hashes and CouchDB batches in flight. */
    concurrency: T.Integer({ minimum: 1, default: 16 }),
    /** Pause after each batch of files (ms), to spare a busy disk. */
    throttle: Ms(0),
    /** Inventory docs per CouchDB request. */
    batchSize: T.Integer({ minimum: 1, default: 1000 }),
  },
  { default: {} },
);

/** `oose clonetool` (spec §10.2). */
export const Clonetool = T.Object(
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
);

/** Prism: extra copies for content delivered often, removed again once it cools. */
export const Hot = T.Object(
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
    /** Hot hashes the runner looks at per round, hottest first. */
    perRound: T.Integer({ minimum: 1, default: 1000 }),
  },
  { default: {} },
);

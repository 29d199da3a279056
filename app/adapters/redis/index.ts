import { readFileSync } from "node:fs";
import { Redis, type RedisOptions } from "ioredis";
import type { Config } from "../../config.js";
import { AppError, BackendUnavailable } from "../../errors.js";
import type { Logger } from "../../log.js";
import { metricsState, opLabel, redisDuration, redisFailovers } from "../../metrics/index.js";

// HA Redis: through Sentinel when sentinels are configured, else a direct URL.
// Fail fast: one retry per command and a command timeout, so a dead primary
// gives a 503 within a couple of seconds instead of a hung request. With
// redis.tls, the Sentinels and the Redis they name are reached over TLS,
// verified against the cluster CA alone.

export function openRedis(cfg: Config["redis"], log?: Logger): Redis {
  const backoff = (n: number) => Math.min(n * 100, 500);
  const tls = cfg.tls ? { ca: readFileSync(cfg.tls.ca, "utf8") } : undefined;
  const common: RedisOptions = {
    ...(tls ? { tls } : {}),
    db: cfg.db,
    password: cfg.password,
    connectTimeout: 1000,
    commandTimeout: cfg.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    retryStrategy: backoff,
    reconnectOnError: (err) => (err.message.startsWith("READONLY") ? 2 : false),
    lazyConnect: false,
  };
  const redis = cfg.sentinels
    ? new Redis({
        ...common,
        sentinels: cfg.sentinels,
        name: cfg.name,
        role: "master",
        sentinelRetryStrategy: backoff,
        sentinelPassword: cfg.sentinelPassword,
        sentinelTLS: tls,
        enableTLSForSentinelMode: tls !== undefined,
      })
    : new Redis(cfg.url!, common);
  redis.on("error", (err) => log?.debug({ err: err.message }, "redis connection error"));
  watchPrimary(redis, log);
  return redis;
}

/** Counts failovers: each time the connection is ready again, on a primary at another address than before. */
export function watchPrimary(redis: Pick<Redis, "on" | "stream">, log?: Logger): void {
  let primary: string | undefined;
  redis.on("ready", () => {
    const at = `${redis.stream?.remoteAddress}:${redis.stream?.remotePort}`;
    if (primary !== undefined && at !== primary) {
      redisFailovers.inc();
      log?.info({ from: primary, to: at }, "redis: now on another primary");
    }
    primary = at;
  });
}

/** Errors of our own making inside a call: the caller's classification, or a bug (a 500). */
const ownError = (err: unknown) =>
  err instanceof AppError ||
  err instanceof TypeError ||
  err instanceof RangeError ||
  err instanceof ReferenceError ||
  err instanceof SyntaxError;

type Outcome = "ok" | "error" | "unavailable";
type Timers = Record<Outcome, { observe(seconds: number): void }>;

/** Histogram children per call description (a few dozen constant strings), resolved once each. */
const timers = new Map<string, Timers>();
const MAX_TIMERS = 256;

function timersFor(what: string): Timers {
  let t = timers.get(what);
  if (!t) {
    const op = opLabel(what);
    const child = (outcome: Outcome) => redisDuration.labels({ op, outcome });
    t = { ok: child("ok"), error: child("error"), unavailable: child("unavailable") };
    if (timers.size < MAX_TIMERS) timers.set(what, t);
  }
  return t;
}

/** Runs a Redis call and times it (when metrics are on): errors pass as they are. */
export async function timedRedis<T>(what: string, call: () => Promise<T>): Promise<T> {
  // One clock read on each side (the delivery path makes one call per uncached purchase).
  const started = metricsState.enabled ? performance.now() : 0;
  const done = (outcome: Outcome) => {
    if (started > 0) timersFor(what)[outcome].observe((performance.now() - started) / 1000);
  };
  try {
    const result = await call();
    done("ok");
    return result;
  } catch (err) {
    done(ownError(err) ? "error" : "unavailable");
    throw err;
  }
}

/** Runs a Redis call; what Redis or the connection fails with becomes BackendUnavailable (503), never "not found". */
export async function redisCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await timedRedis(what, call);
  } catch (err) {
    if (ownError(err)) throw err;
    throw new BackendUnavailable(`Redis unavailable (${what})`, undefined, err);
  }
}

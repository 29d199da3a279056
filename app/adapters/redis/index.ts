import { Redis, type RedisOptions } from "ioredis";
import type { Config } from "../../config.js";
import { AppError, BackendUnavailable } from "../../errors.js";
import type { Logger } from "../../log.js";

// HA Redis: through Sentinel when sentinels are configured, else a direct URL.
// Fail fast: one retry per command and a command timeout, so a dead primary
// gives a 503 within a couple of seconds instead of a hung request.

export function openRedis(cfg: Config["redis"], log?: Logger): Redis {
  const backoff = (n: number) => Math.min(n * 100, 500);
  const common: RedisOptions = {
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
        sentinelPassword: undefined,
      })
    : new Redis(cfg.url!, common);
  redis.on("error", (err) => log?.debug({ err: err.message }, "redis connection error"));
  return redis;
}

/** Errors of our own making inside a call: the caller's classification, or a bug (a 500). */
const ownError = (err: unknown) =>
  err instanceof AppError ||
  err instanceof TypeError ||
  err instanceof RangeError ||
  err instanceof ReferenceError ||
  err instanceof SyntaxError;

/** Runs a Redis call; what Redis or the connection fails with becomes BackendUnavailable (503), never "not found". */
export async function redisCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (ownError(err)) throw err;
    throw new BackendUnavailable(`Redis unavailable (${what})`, undefined, err);
  }
}

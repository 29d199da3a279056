import type { TSchema } from "@sinclair/typebox";
import type { Command } from "commander";
import type { Redis } from "ioredis";
import { type Couch, openCouch } from "../adapters/couch/index.js";
import { CouchPeers } from "../adapters/couch/peers.js";
import { openRedis } from "../adapters/redis/index.js";
import { type Config, ConfigError, ConfigSchema, rawConfig } from "../config.js";
import { INVENTORY_CHANNEL } from "../core/inventory.js";
import { PeerTable } from "../core/peer-table.js";
import { cliLogger, type Logger } from "../log.js";
import { addConnectionOptions, type ConnectionFlags, check, loadToolConfig, redisPrefix } from "./common.js";

// What the operator commands (inventory, clonetool, purchases, status) share:
// the config sections they read on top of the tool config, the cluster
// connections, progress output and exit codes.

export const EXIT = { ok: 0, failed: 1, config: 2 } as const;

export interface OpsFlags extends ConnectionFlags {
  json?: boolean;
  verbose?: boolean;
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

/** One config key or section, validated against its part of the schema (defaults applied). */
export function setting<K extends keyof Config>(raw: Raw, key: K): Config[K] {
  const schema = (ConfigSchema.properties as Record<string, TSchema>)[key as string]!;
  const problems = new Map<string, string>();
  const value = check<Config[K]>(
    String(key),
    schema,
    raw[key as string] ?? (isObj(schema.default) ? {} : undefined),
    problems,
  );
  if (problems.size > 0) throw new ConfigError([...problems.values()]);
  return value;
}

export interface Cluster {
  config: ReturnType<typeof loadToolConfig>;
  raw: Raw;
  couch: Couch;
  log: Logger;
  /** Opened on first use; undefined when no Redis is configured. */
  redis(): Redis | undefined;
  prefix: string;
  close(): Promise<void>;
}

export function connect(flags: OpsFlags, name: string): Cluster {
  const config = loadToolConfig(flags);
  const raw = rawConfig();
  const log = cliLogger(name);
  log.level = process.env.OOSE_LOG_LEVEL ?? (flags.verbose ? "info" : "warn");
  const couch = openCouch({ ...config.couchdb, timeoutMs: Math.max(config.couchdb.timeoutMs, 60_000) });
  let redis: Redis | undefined;
  return {
    config,
    raw,
    couch,
    log,
    prefix: redisPrefix(config),
    redis() {
      if (!redis && config.redis) redis = openRedis(config.redis, log);
      return redis;
    },
    async close() {
      // QUIT waits for the commands already sent (fire-and-forget announcements among them); disconnect would drop them.
      await redis?.quit().catch(() => redis?.disconnect());
      await couch.close();
    },
  };
}

/** The peer table, loaded once (a tool needs a snapshot, not a refresh loop). */
export async function loadPeers(c: Cluster): Promise<PeerTable> {
  const peers = new PeerTable(new CouchPeers(c.couch), 60_000, c.log);
  await peers.refresh();
  return peers;
}

/** Tells every prism that these hashes' copies changed (their existence caches drop them). */
export function announcer(c: Cluster): ((hashes: string[]) => Promise<void>) | undefined {
  const redis = c.redis();
  if (!redis) return undefined;
  const channel = INVENTORY_CHANNEL(c.prefix);
  return async (hashes) => {
    const pipe = redis.pipeline();
    for (const h of new Set(hashes)) pipe.publish(channel, h);
    await pipe.exec().catch((err) => c.log.warn({ err: err.message }, "inventory change not announced"));
  };
}

export function addOpsOptions(cmd: Command, o: { redis: boolean }): Command {
  return addConnectionOptions(cmd, o)
    .option("--json", "print the report as JSON (no progress output)")
    .option("--verbose", "log at info level");
}

/** Runs a command and turns its outcome into the exit code: 0 done, 1 failed, 2 bad configuration or usage. */
export const action =
  <F>(fn: (flags: F, ...args: string[]) => Promise<number>) =>
  async (...args: unknown[]): Promise<void> => {
    // commander passes positional arguments first, then the options, then the command.
    const positional = args.slice(0, -2) as string[];
    const flags = args.at(-2) as F;
    try {
      process.exitCode = await fn(flags, ...positional);
    } catch (err) {
      if (err instanceof ConfigError || err instanceof UsageError) {
        console.error(err.message);
        process.exitCode = EXIT.config;
        return;
      }
      console.error(`FAILED: ${(err as Error).message ?? err}`);
      process.exitCode = EXIT.failed;
    }
  };

export class UsageError extends Error {}

export const fmtBytes = (n: number) => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

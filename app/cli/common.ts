import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Command } from "commander";
import { type Config, ConfigError, ConfigSchema, readConfigFile } from "../config.js";
import { envToObject } from "../config-env.js";

// What every `oose` subcommand shares: self-registration (a subcommand module
// calls defineCommand; app/cli.ts imports it in one line), and the tool config:
// the same OOSE_* env / OOSE_CONFIG file as the nodes, but only the sections a
// tool needs, with --couchdb/--redis/--sentinels overrides, so an operator can
// run it with nothing but the CouchDB and Redis addresses.

type Register = (program: Command) => void;
const registry: Register[] = [];

export function defineCommand(register: Register): void {
  registry.push(register);
}

export function registerCommands(program: Command): Command {
  for (const register of registry) register(program);
  return program;
}

export interface ToolConfig {
  couchdb: Config["couchdb"];
  /** Undefined when neither a URL nor sentinels are configured. */
  redis?: Config["redis"];
  purchase: Config["purchase"];
}

export interface ConnectionFlags {
  couchdb?: string;
  database?: string;
  redis?: string;
  sentinels?: string;
  redisName?: string;
  redisPrefix?: string;
}

export function addConnectionOptions(cmd: Command, o: { redis: boolean }): Command {
  cmd
    .option("--couchdb <url>", "CouchDB URL, credentials allowed (default: OOSE_COUCHDB__URL)")
    .option("--database <name>", "database base name (default: OOSE_COUCHDB__DATABASE or oose)");
  if (o.redis) {
    cmd
      .option("--redis <url>", "Redis URL, e.g. redis://host:6379/0 (default: OOSE_REDIS__URL)")
      .option("--sentinels <list>", "Sentinels as host:port,host:port (default: OOSE_REDIS__SENTINELS)")
      .option("--redis-name <name>", "Sentinel master name (default: oose)")
      .option("--redis-prefix <prefix>", "Redis key prefix (default: oose)");
  }
  return cmd;
}

function section(raw: unknown): Record<string, unknown> {
  return raw && typeof raw === "object" && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : {};
}

/** Validates one config section; the first problem per key wins. */
/** One part of the config against its schema (defaults applied); problems are collected by key. */
export function check<T>(name: string, schema: TSchema, raw: unknown, problems: Map<string, string>): T {
  const value = Value.Convert(schema, Value.Default(schema, structuredClone(raw)));
  for (const e of Value.Errors(schema, value)) {
    const key = `${name}${e.path.replaceAll("/", ".")}`;
    if (!problems.has(key)) problems.set(key, `${key}: ${e.message}`);
  }
  return value as T;
}

export function parseSentinels(list: string): { host: string; port: number }[] {
  return list.split(",").map((item) => {
    const at = item.trim().lastIndexOf(":");
    const host = item
      .trim()
      .slice(0, at)
      .replace(/^\[|\]$/g, "");
    const port = Number(item.trim().slice(at + 1));
    if (at <= 0 || !host || !Number.isInteger(port)) throw new ConfigError([`--sentinels: bad entry "${item}"`]);
    return { host, port };
  });
}

/** The tool config: file, then env, then flags; validates only couchdb, redis (if any) and purchase. */
export function loadToolConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ToolConfig {
  const file = readConfigFile(env);
  const fromEnv = envToObject(env);
  const couchdb = { ...section(file.couchdb), ...section(fromEnv.couchdb) };
  const redis = { ...section(file.redis), ...section(fromEnv.redis) };
  const purchase = { ...section(file.purchase), ...section(fromEnv.purchase) };
  if (flags.couchdb) {
    const url = new URL(flags.couchdb);
    if (url.username) couchdb.username = decodeURIComponent(url.username);
    if (url.password) couchdb.password = decodeURIComponent(url.password);
    url.username = "";
    url.password = "";
    couchdb.url = url.toString().replace(/\/$/, "");
  }
  if (flags.database) couchdb.database = flags.database;
  if (flags.redis) {
    redis.url = flags.redis;
    delete redis.sentinels;
  }
  if (flags.sentinels) {
    redis.sentinels = parseSentinels(flags.sentinels);
    delete redis.url;
  }
  if (flags.redisName) redis.name = flags.redisName;
  if (flags.redisPrefix) redis.prefix = flags.redisPrefix;
  const problems = new Map<string, string>();
  if (couchdb.url === undefined)
    problems.set("couchdb.url", "couchdb.url: pass --couchdb <url> or set OOSE_COUCHDB__URL");
  const props = ConfigSchema.properties;
  const out: ToolConfig = {
    couchdb: check("couchdb", props.couchdb, couchdb, problems),
    purchase: check("purchase", props.purchase, purchase, problems),
  };
  if (redis.url !== undefined || redis.sentinels !== undefined)
    out.redis = check("redis", props.redis, redis, problems);
  if (problems.size > 0) throw new ConfigError([...problems.values()]);
  return out;
}

/** The Redis prefix even when no Redis is configured (keys are named in reports). */
export const redisPrefix = (c: ToolConfig) =>
  c.redis?.prefix ?? (Value.Default(ConfigSchema.properties.redis, {}) as { prefix: string }).prefix;

export function intOption(name: string, min = 0) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new ConfigError([`${name}: expected an integer ≥ ${min}, got "${raw}"`]);
    return n;
  };
}

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ConfigError, readConfigFile } from "../config.js";
import { envName } from "../config-env.js";

// Lets every `oose` command find a cluster without flags: the cluster.json
// `npm start` writes (`.oose/cluster.json` under the working directory), or the
// file named by --cluster or OOSE_CLUSTER. It only fills in what the OOSE_*
// environment and the OOSE_CONFIG file leave unset, a whole group at a time (a
// CouchDB URL never gets another cluster's Redis), and flags still win over both.

export const DEFAULT_CLUSTER_FILE = path.join(".oose", "cluster.json");

interface Creds {
  username: string;
  password: string;
}

/** The part of cluster.json (infra/local's ClusterInfo) the tools read. */
interface ClusterFile {
  couchdb: string;
  ca?: string | null;
  redis?: { sentinels: { host: string; port: number }[]; name: string };
  prismAuth?: Creds;
  storeAuth?: Creds;
}

/** `--cluster <file>` or `--cluster=<file>` anywhere on the command line. */
function flagValue(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return undefined;
    if (a === "--cluster") return argv[i + 1];
    if (a.startsWith("--cluster=")) return a.slice("--cluster=".length);
  }
  return undefined;
}

function read(file: string): ClusterFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError([`cluster file ${file}: ${(err as Error).message}`]);
  }
  const c = parsed as Partial<ClusterFile> | null;
  if (!c || typeof c !== "object" || typeof c.couchdb !== "string")
    throw new ConfigError([`cluster file ${file}: not a cluster.json (no couchdb URL)`]);
  return c as ClusterFile;
}

const has = (o: unknown, ...keys: string[]) => {
  let v = o;
  for (const k of keys) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return v !== undefined;
};

/**
 * The OOSE_* variables a cluster file adds to `env`, and the file: none when no file is named and
 * `<cwd>/.oose/cluster.json` does not exist. A named file that cannot be read is a ConfigError.
 */
export function clusterFileEnv(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): { file?: string; vars: Record<string, string> } {
  const named = flagValue(argv) ?? env.OOSE_CLUSTER;
  const file = path.resolve(cwd, named ?? DEFAULT_CLUSTER_FILE);
  if (!named && !existsSync(file)) return { vars: {} };
  const info = read(file);
  const conf = readConfigFile(env);
  const set = (section: string, keys: string[]) =>
    keys.some((k) => env[envName([section, k])] !== undefined || has(conf, section, k));
  const vars: Record<string, string> = {};
  if (!set("couchdb", ["url"])) vars.OOSE_COUCHDB__URL = info.couchdb;
  if (info.redis && info.redis.sentinels.length > 0 && !set("redis", ["url", "sentinels"])) {
    vars.OOSE_REDIS__SENTINELS = JSON.stringify(info.redis.sentinels);
    if (!set("redis", ["name"])) vars.OOSE_REDIS__NAME = info.redis.name;
  }
  if (info.ca && !set("tls", ["ca"])) vars.OOSE_TLS__CA = path.resolve(path.dirname(file), info.ca);
  for (const [role, creds] of [
    ["prism", info.prismAuth],
    ["store", info.storeAuth],
  ] as const) {
    if (!creds || has(conf, "auth", role) || Object.keys(env).some((k) => k.startsWith(envName(["auth", role]))))
      continue;
    vars[envName(["auth", role, "username"])] = creds.username;
    vars[envName(["auth", role, "password"])] = creds.password;
  }
  return { file, vars };
}

/** Adds the cluster file's settings to process.env; answers the file used, if any. */
export function useClusterFile(argv: readonly string[] = process.argv): string | undefined {
  const { file, vars } = clusterFileEnv(argv, process.env, process.cwd());
  Object.assign(process.env, vars);
  return file;
}

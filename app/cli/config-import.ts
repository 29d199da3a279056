import { ConfigError, parseConfig } from "../config.js";

// OOSE 2.x config (spec §2) → ours: which keys map, which are dropped and why,
// and what the node still needs. `oose config import` (config.ts) reads the
// file and writes the result.

export type Obj = Record<string, unknown>;
export type Role = "prism" | "store";

export interface ImportOptions {
  /** Which node this file becomes when it enables both roles (OOSE ran both in one process). */
  role?: Role;
  signingKey?: string;
  advertiseUrl?: string;
}

export interface ImportResult {
  role: Role;
  config: Obj;
  mapped: { from: string; to: string; note?: string }[];
  dropped: { key: string; reason: string }[];
  /** Keys the node still needs before it starts, with why. */
  todo: string[];
}

export class ImportError extends Error {}

export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Leaves of an OOSE config as dotted keys; arrays and these option bags count as one value. */
const OPAQUE = new Set(["redis.options", "purchase.redis.options", "couchdb.options", "prism.purchaseZoneCouch"]);
function leaves(o: Obj, prefix = ""): [string, unknown][] {
  return Object.entries(o).flatMap(([k, v]): [string, unknown][] => {
    const key = prefix ? `${prefix}.${k}` : k;
    return isObj(v) && !OPAQUE.has(key) ? leaves(v, key) : [[key, v]];
  });
}

function setPath(o: Obj, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let node = o;
  for (const p of parts.slice(0, -1)) {
    if (!isObj(node[p])) node[p] = {};
    node = node[p] as Obj;
  }
  node[parts.at(-1)!] = value;
}

const get = (o: Obj, dotted: string): unknown =>
  dotted.split(".").reduce<unknown>((n, k) => (isObj(n) ? n[k] : undefined), o);

/** Keys that map one to one (OOSE key → ours). */
const DIRECT: Record<string, string> = {
  domain: "domain",
  host: "host",
  root: "dataRoot",
  defaultHashType: "defaultHashType",
  "ssl.pem": "tls.pem",
  "heartbeat.retries": "heartbeat.retries",
  "heartbeat.concurrency": "heartbeat.concurrency",
  "heartbeat.startDelay": "heartbeat.startDelay",
  "heartbeat.frequency": "heartbeat.frequency",
  "heartbeat.votePruneFrequency": "heartbeat.votePruneFrequency",
  "heartbeat.voteLife": "heartbeat.voteLife",
  "heartbeat.pingResponseTimeout": "heartbeat.pingTimeout",
  "purchase.life": "purchase.life",
  "purchase.afterlife": "purchase.afterlife",
  "couchdb.database": "couchdb.database",
  "prism.denyStaticTypes": "denyStaticTypes",
  "store.verifyExpiration": "verifyExpiration",
  "clonetool.desired": "replicas",
};

/** Keys (or whole sections, ending in ".") that have no counterpart, and why. */
const DROP: [string, string][] = [
  ["version", "the version is the package's, reported by /"],
  ["group", "unused by OOSE 2.x"],
  ["api.maxSockets", "calls between nodes use keep-alive pools per peer, with a deadline on every call"],
  ["heartbeat.systemKey", "a node's identity is its role and name"],
  ["heartbeat.systemType", "a node's identity is its role and name"],
  ["redis.options", "ioredis connection options are not imported; set redis.url or redis.sentinels"],
  ["purchase.redis.options", "ioredis connection options are not imported; set redis.url or redis.sentinels"],
  [
    "couchdb.options",
    "cradle options (cache, retries, retryTimeout) have no counterpart; its auth and secure are used above",
  ],
  ["admin.", "the admin panel is gone (it was dead in OOSE 2.x)"],
  ["prism.workers.", "one process per node: scale with more nodes, not cluster workers"],
  ["store.workers.", "one process per node: scale with more nodes, not cluster workers"],
  ["prism.purchaseCacheLife", "every delivery reads the purchase from Redis, so expiry is checked each time"],
  ["prism.ghost", "every prism registers and runs the heartbeat"],
  ["prism.purchaseZone", "purchases live in the HA Redis, not in zoned CouchDB databases"],
  ["prism.purchaseZoneCouch", "purchases live in the HA Redis, not in zoned CouchDB databases"],
  ["store.inventoryConcurrency", "the inventory scan is `oose inventory`; pass it as a flag there"],
  ["store.inventoryThrottle", "the inventory scan is `oose inventory`; pass it as a flag there"],
  ["store.purchasePruneConcurrency", "purchases expire through their Redis TTL: there is nothing to prune"],
  ["clonetool.hashWhitelist", "pass it to `oose clonetool` instead"],
  ["clonetool.storeProtected", "pass it to `oose clonetool` instead"],
  ["stats.", "statTrack's remote Redis is not used; counters are served by /stats"],
];

function redisUrl(r: Obj): string {
  const auth = r.auth ?? r.password;
  const cred = typeof auth === "string" && auth ? `:${encodeURIComponent(auth)}@` : "";
  return `redis://${cred}${r.host ?? "127.0.0.1"}:${r.port ?? 6379}/${r.db ?? 0}`;
}

/** The OOSE config `raw` (already loaded) as ours. Throws ImportError when the role is unclear. */
export function importOoseConfig(raw: Obj, opts: ImportOptions = {}): ImportResult {
  const enabled = (["prism", "store"] as const).filter((r) => get(raw, `${r}.enabled`) === true);
  const role = opts.role ?? (enabled.length === 1 ? enabled[0] : undefined);
  if (!role) {
    throw new ImportError(
      enabled.length === 2
        ? "both prism and store are enabled: OOSE ran them in one process, here each is its own node. Import twice, with --role prism and --role store"
        : "neither prism.enabled nor store.enabled is true: say which node this is with --role prism|store",
    );
  }
  const other: Role = role === "prism" ? "store" : "prism";
  const out: Obj = { role };
  const mapped: ImportResult["mapped"] = [];
  const dropped: ImportResult["dropped"] = [];
  const used = new Set<string>();
  const map = (from: string | string[], to: string, value: unknown, note?: string) => {
    for (const f of [from].flat()) used.add(f);
    setPath(out, to, value);
    mapped.push({ from: [from].flat().join(", "), to, note });
  };
  const has = (key: string) => get(raw, key) !== undefined;

  for (const [from, to] of Object.entries(DIRECT)) {
    if (from.startsWith(`${other}.`) || !has(from)) continue;
    map(from, to, get(raw, from));
  }
  const existsCacheLife = get(raw, "prism.existsCacheLife");
  if (role === "prism" && typeof existsCacheLife === "number") {
    const seconds = existsCacheLife < 1000;
    map(
      "prism.existsCacheLife",
      "existsCacheLife",
      seconds ? existsCacheLife * 1000 : existsCacheLife,
      seconds ? "read as seconds, written as ms" : undefined,
    );
  }

  // The node itself.
  const section = (get(raw, role) ?? {}) as Obj;
  map(`${role}.enabled`, "role", role);
  const name = section.name ?? (role === "prism" ? "prism1" : "store1");
  map(`${role}.name`, "name", name, section.name === undefined ? "OOSE's default name" : undefined);
  if (role === "store")
    map(
      "store.prism",
      "prism",
      section.prism ?? "prism1",
      section.prism === undefined ? "OOSE's default parent" : undefined,
    );
  const port = section.port ?? (role === "prism" ? 5971 : 5972);
  map(`${role}.port`, "listen.port", port, section.port === undefined ? "OOSE's default port" : undefined);
  const scheme = has("ssl.pem") ? "https" : "http";
  if (typeof section.host === "string" && section.host) {
    map(`${role}.host`, "listen.host", section.host);
    if (!opts.advertiseUrl) setPath(out, "advertiseUrl", `${scheme}://${section.host}:${port}`);
  } else {
    map(`${role}.host`, "listen.host", "0.0.0.0", "host null listened on every interface");
  }
  if (opts.advertiseUrl) setPath(out, "advertiseUrl", opts.advertiseUrl);
  if (has(`${role}.timeout`)) map(`${role}.timeout`, "limits.requestTimeoutMs", get(raw, `${role}.timeout`));

  // Credentials: every node needs both pairs (a prism calls stores with the store's).
  for (const r of ["prism", "store"] as const) {
    const s = (get(raw, r) ?? {}) as Obj;
    const defaulted = s.username === undefined || s.password === undefined;
    map(
      [`${r}.username`, `${r}.password`],
      `auth.${r}`,
      { username: s.username ?? "oose", password: s.password ?? "oose" },
      defaulted ? "OOSE's default oose/oose: change it, the same on every node" : undefined,
    );
  }

  // CouchDB: host/port (and options.secure) make the URL; options.auth the credentials.
  const couch = (get(raw, "couchdb") ?? {}) as Obj;
  const couchOpts = (isObj(couch.options) ? couch.options : {}) as Obj;
  const couchScheme = couchOpts.secure === true ? "https" : "http";
  map(
    ["couchdb.host", "couchdb.port"],
    "couchdb.url",
    `${couchScheme}://${couch.host ?? "127.0.0.1"}:${couch.port ?? 5984}`,
    couch.host === undefined ? "OOSE's default CouchDB address" : undefined,
  );
  const couchAuth = isObj(couchOpts.auth) ? couchOpts.auth : undefined;
  if (couchAuth?.username) setPath(out, "couchdb.username", couchAuth.username);
  if (couchAuth?.password) setPath(out, "couchdb.password", couchAuth.password);
  if (couchAuth) mapped.push({ from: "couchdb.options.auth", to: "couchdb.username, couchdb.password" });
  if (has("couchdb.prefix")) {
    used.add("couchdb.prefix");
    dropped.push({
      key: "couchdb.prefix",
      reason: couch.prefix
        ? "2.0.x key prefixes are migrated away: run `oose migrate up`, which moves the keys to the 2.1 layout"
        : "empty, as in the 2.1 layout we keep",
    });
  }

  // Redis: OOSE 2.2-final kept purchases in one shared Redis (purchase.redis) and counters in a local one.
  const shared = get(raw, "purchase.redis");
  const local = get(raw, "redis");
  const source = isObj(shared) ? "purchase.redis" : "redis";
  const redis = (isObj(shared) ? shared : isObj(local) ? local : {}) as Obj;
  const parts = ["host", "port", "db", "auth", "password"].map((k) => `${source}.${k}`).filter(has);
  map(
    parts.length ? parts : `${source}.host`,
    "redis.url",
    redisUrl(redis),
    parts.length ? undefined : "OOSE's default Redis address",
  );
  if (redis.prefix !== undefined) map(`${source}.prefix`, "redis.prefix", redis.prefix);
  if (isObj(shared) && isObj(local)) {
    for (const [k] of leaves(local, "redis")) {
      if (!DROP.some(([d]) => k === d)) {
        used.add(k);
        dropped.push({
          key: k,
          reason: "counters and caches live in the shared Redis (or in memory); the local Redis is not used",
        });
      }
    }
  }
  setPath(out, "purchase.waitReplicas", 0);
  mapped.push({
    from: source,
    to: "purchase.waitReplicas",
    note: "0: one Redis, as in OOSE; raise it once Sentinel and replicas run",
  });

  const token = get(raw, "api.sessionTokenName");
  if (token !== undefined) {
    used.add("api.sessionTokenName");
    dropped.push({
      key: "api.sessionTokenName",
      reason:
        String(token).toLowerCase() === "x-oose-token"
          ? "X-OOSE-Token is built in"
          : `the session header is always X-OOSE-Token; clients that send ${String(token)} must change`,
    });
  }

  for (const [key] of leaves(raw)) {
    if (used.has(key)) continue;
    const rule = DROP.find(([k]) => (k.endsWith(".") ? key.startsWith(k) : key === k));
    if (rule) dropped.push({ key, reason: rule[1] });
    else if (key.startsWith(`${other}.`))
      dropped.push({
        key,
        reason: enabled.includes(other)
          ? `belongs to the ${other}: import this file again with --role ${other}`
          : `the ${other} role is not enabled in this file`,
      });
    else if (key.startsWith("purchase.redis.")) continue;
    else dropped.push({ key, reason: "not an OOSE 2.2 key" });
  }

  if (opts.signingKey) setPath(out, "signingKey", opts.signingKey);
  const todo: string[] = [];
  try {
    parseConfig(out);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) {
      const key = p.split(":")[0]!;
      if (key === "signingKey")
        todo.push(
          "signingKey: new here (it signs delivery URLs for the stores' nginx); the same on every node (--signing-key)",
        );
      else if (key === "advertiseUrl")
        todo.push(
          `advertiseUrl: the URL peers reach this node at, e.g. ${scheme}://<address>:${port} (OOSE advertised its bind address)`,
        );
      else if (key === "dataRoot")
        todo.push("dataRoot: OOSE's default was <code>/data; set it to the old root to keep the files");
      else todo.push(p);
    }
  }
  if (!has("ssl.pem"))
    todo.push(
      "tls: no ssl.pem, so OOSE used the SDK's test certificate; this node serves plain HTTP until tls.pem (or tls.cert + tls.key) is set",
    );
  return { role, config: out, mapped, dropped, todo };
}

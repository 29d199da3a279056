import path from "node:path";
import { type Config, LABEL_PATTERN } from "../app/config.js";
import { HASH_TYPES } from "../app/core/hash.js";
import { DELIVERY_PREFIX, SIGNING_KEY_PATTERN } from "../app/core/signing.js";
import { deniedExtensions } from "../app/core/static-types.js";
import { accessLogDir, accessLogFile } from "../app/core/usage.js";
import { DISK_HEALTH_FILE, DISK_HEALTH_PATH } from "../app/jobs/disk-health.js";
import { indent, renderNginx } from "./common.js";

// The store's nginx: the only way end users get bytes. Content is served by its
// layout path under /c/ with an expiring secure_link (403 bad, 410 expired);
// /static/<relativePath> serves only types not on the deny list, so
// purchase-only media is never one bare hash away.

export interface StoreNginxOptions {
  name: string;
  listen: { host: string; port: number };
  /** `<dataRoot>/content`, as nginx sees it (read-only is enough); the health file is read from `<dataRoot>`. */
  contentRoot: string;
  signingKey: string;
  /** Extensions and MIME classes (`video/*`), as in the config. */
  denyStaticTypes: string[];
  rate?: { fastBytes?: number; bytesPerSecond?: number; requestsPerSecond?: number; burst?: number };
  tls?: { cert: string; key: string };
  /** Where the JSON access log goes, a file per day (app/core/usage.ts); unset: no access log. */
  accessLogDir?: string;
  /** The loopback /livez for the container's health check. */
  health?: { port: number };
}

/** What only the renderer knows: where the nginx listens, and its TLS files and rate limits, if any. */
export type StoreNginxSite = Pick<StoreNginxOptions, "listen" | "tls" | "rate" | "health">;

/**
 * A store's nginx options from the store's own config. The deployment and the
 * local cluster both render through this, so their nginx serve the same rules.
 */
export function storeNginxOptions(
  config: Pick<Config, "name" | "dataRoot" | "signingKey" | "denyStaticTypes" | "accessLog">,
  site: StoreNginxSite,
): StoreNginxOptions {
  return {
    name: config.name,
    contentRoot: path.posix.join(config.dataRoot, "content"),
    signingKey: config.signingKey,
    denyStaticTypes: config.denyStaticTypes,
    accessLogDir: config.accessLog.enabled ? accessLogDir(config) : undefined,
    ...site,
  };
}

export const STORE_RATE_DEFAULTS = {
  fastBytes: 10 * 1024 * 1024,
  bytesPerSecond: 1024 * 1024,
  requestsPerSecond: 100,
  burst: 200,
} as const;

/** A regex (no anchors) matching the decimal integers 1..n without leading zeros. */
export function atMostPattern(n: number): string {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`atMostPattern: ${n} is not a positive integer`);
  const s = String(n);
  const k = s.length;
  const alts: string[] = [];
  if (k > 1) alts.push(k === 2 ? "[1-9]" : `[1-9][0-9]{0,${k - 2}}`);
  for (let i = 0; i < k; i++) {
    const lo = i === 0 ? 1 : 0;
    const d = Number(s[i]);
    if (d - 1 < lo) continue;
    const rest = k - i - 1;
    const digit = lo === d - 1 ? String(lo) : `[${lo}-${d - 1}]`;
    alts.push(`${s.slice(0, i)}${digit}${rest > 1 ? `[0-9]{${rest}}` : rest ? "[0-9]" : ""}`);
  }
  alts.push(s);
  return alts.join("|");
}

const positive = (what: string, v: number) => {
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`store nginx: ${what} must be a positive integer`);
  return v;
};

// Everything below is pasted into nginx syntax, so anything that could close a
// quote or start a variable is refused rather than escaped.
function checkInputs(o: StoreNginxOptions): void {
  if (!new RegExp(LABEL_PATTERN).test(o.name)) throw new Error(`store nginx: bad name ${o.name}`);
  if (!SIGNING_KEY_PATTERN.test(o.signingKey))
    throw new Error("store nginx: signing key must match SIGNING_KEY_PATTERN");
  for (const p of [o.contentRoot, o.tls?.cert, o.tls?.key, o.accessLogDir]) {
    if (p !== undefined && (!p.startsWith("/") || /["'$;{}\\\s]/.test(p)))
      throw new Error(`store nginx: bad path ${p}`);
  }
  if (!/^[0-9a-zA-Z.:[\]-]+$/.test(o.listen.host)) throw new Error(`store nginx: bad listen host ${o.listen.host}`);
  positive("listen.port", o.listen.port);
}

// Both the /c/ location and its nested mp4/flv locations need the check:
// nested locations do not inherit `if`.
const SIGNED = `if ($secure_link = "") { return 403; }
if ($secure_link = "0") { return 410; }`;

// The hash of a /c/ or /static/ layout path: nginx cannot strip the slashes, so
// one regex per hash length captures each 2-character segment.
const HASH_OF_URI = Object.values(HASH_TYPES)
  .map((len) => {
    const n = Array.from({ length: len / 2 }, (_, i) => `oose_h${i + 1}`);
    return `"~^/(?:c|static)/${n.map((v) => `(?<${v}>[0-9a-f]{2})`).join("/")}\\.[a-z0-9]{1,16}$" "${n.map((v) => `$${v}`).join("")}";`;
  })
  .join("\n");

// One JSON line per request. The file is named by the date of its lines, so it
// rotates at midnight (nginx's local time) with no signal: nginx and the node may
// be in separate containers. The node compresses and deletes past days.
function accessLog(o: StoreNginxOptions, root: string) {
  const fields = [
    ["time", '"$time_iso8601"'],
    ["store", `"${o.name}"`],
    ["client", '"$remote_addr"'],
    ["method", '"$request_method"'],
    ["path", '"$uri"'],
    ["token", '"$oose_token"'],
    ["hash", '"$oose_hash"'],
    ["status", "$status"],
    ["bytes", "$body_bytes_sent"],
    ["referer", '"$http_referer"'],
    ["user_agent", '"$http_user_agent"'],
    ["request_time", "$request_time"],
  ];
  const http = `map $time_iso8601 $oose_log_day {
  "~^(?<oose_day>[0-9]{4}-[0-9]{2}-[0-9]{2})T" $oose_day;
}
# The prism adds the purchase token to the links it signs (outside the signature).
map $arg_token $oose_token {
  default "";
  "~^[A-Za-z0-9]{64}$" $arg_token;
}
map $uri $oose_hash {
  default "";
${indent(HASH_OF_URI)}
}
log_format oose_json escape=json '{${fields.map(([k, v]) => `"${k}":${v}`).join(",")}}';`;
  // A log path with variables is written only where the location's root exists: these
  // pages set no root of their own, and /c/ and /static/ alias the same folder.
  const server = `access_log "${o.accessLogDir}/${accessLogFile("$oose_log_day")}" oose_json;
open_log_file_cache max=8 inactive=20s valid=10s;
root "${root}";`;
  return { http, server };
}

export function renderStoreNginx(o: StoreNginxOptions): string {
  checkInputs(o);
  const rate = { ...STORE_RATE_DEFAULTS, ...o.rate };
  const cap = positive("rate.bytesPerSecond", rate.bytesPerSecond);
  const root = o.contentRoot.replace(/\/+$/, "");
  // The prism's /static route expands the same list the same way: both refuse the same files.
  const deny = deniedExtensions(o.denyStaticTypes);
  const listen = `${o.listen.host.includes(":") ? `[${o.listen.host}]` : o.listen.host}:${o.listen.port}`;
  const log = o.accessLogDir ? accessLog(o, root) : undefined;
  // Probes (every prism, every second) and stub_status are not end users' requests.
  const quiet = log ? "\n    access_log off;" : "";

  const http = `limit_req_zone $binary_remote_addr zone=oose_req:10m rate=${positive("rate.requestsPerSecond", rate.requestsPerSecond)}r/s;
limit_req_status 429;
# ?rate=<bytes/s> may only lower the cap: anything else (0 = unlimited, junk, above the cap) gets the cap.
map $arg_rate $oose_rate {
  default ${cap};
  "~^(?:${atMostPattern(cap)})$" $arg_rate;
}
# ?attach=<name> downloads under that name; names outside the unreserved set are not echoed.
map $arg_attach $oose_disposition {
  default "inline";
  "~^[A-Za-z0-9._~-]{1,255}$" "attachment; filename=\\"$arg_attach\\"";
  "~^(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2}){1,255}$" "attachment; filename*=UTF-8''$arg_attach";
  "~." "attachment";
}${log ? `\n${log.http}` : ""}`;

  const servers = `server {
  listen ${listen}${o.tls ? " ssl" : ""} default_server;
  server_name ${o.name} _;
${o.tls ? `  ssl_certificate "${o.tls.cert}";\n  ssl_certificate_key "${o.tls.key}";\n` : ""}  autoindex off;
  add_header X-Peer "${o.name}" always;
  add_header Content-Disposition $oose_disposition;
  limit_req zone=oose_req burst=${positive("rate.burst", rate.burst)} nodelay;
  limit_rate_after ${positive("rate.fastBytes", rate.fastBytes)};
  limit_rate $oose_rate;
  # Short revalidation so a removed or corrupt copy stops being served soon; lookup
  # errors are not cached, so a copy that lands after a 404 is served at once.
  open_file_cache max=100000 inactive=2m;
  open_file_cache_valid 10s;
  open_file_cache_errors off;
${log ? `${indent(log.server)}\n` : ""}
  location = / {
    default_type text/plain;
    return 200 "OOSE store ${o.name}\\n";
  }
  # The prisms' disk probe: the node rewrites this file every second; opened afresh each time, so a hung disk fails it.
  location = ${DISK_HEALTH_PATH} {${quiet}
    open_file_cache off;
    default_type text/plain;
    alias "${path.posix.join(path.posix.dirname(root), DISK_HEALTH_FILE)}";
  }
  location = /nginx_status {${quiet}
    stub_status;
    allow 127.0.0.1;
    allow ::1;
    deny all;
  }
  location ${DELIVERY_PREFIX} {
    secure_link $arg_md5,$arg_expires;
    secure_link_md5 "$secure_link_expires$uri ${o.signingKey}";
${indent(SIGNED, "    ")}
    alias "${root}/";
    location ~* \\.mp4$ {
${indent(SIGNED, "      ")}
      mp4;
      mp4_buffer_size 1m;
      mp4_max_buffer_size 128m;
    }
    location ~* \\.flv$ {
${indent(SIGNED, "      ")}
      flv;
    }
  }
  location /static/ {
    alias "${root}/";
${deny.length ? `    location ~* "\\.(?:${deny.join("|")})$" { return 403; }\n` : ""}  }
  location / {
    return 404;
  }
}`;
  return renderNginx({ http, servers, health: o.health });
}

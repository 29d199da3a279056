import createDebug from "debug";
import { type Logger, pino } from "pino";

// Structured logs. Level comes from OOSE_LOG_LEVEL (default info); DEBUG=oose:*
// (or a narrower pattern like oose:prism:*) turns on debug for matching parts,
// as OOSE users expect. Secrets are redacted wherever they appear.

const REDACT = [
  "password",
  "*.password",
  "*.*.password",
  "signingKey",
  "*.signingKey",
  "req.headers.authorization",
  'req.headers["x-oose-token"]',
];

// Errors of backend libraries carry what they sent: nano's the request body
// (a login's password) and headers, ioredis's the command's arguments. They
// are logged with the request line only, and secrets anywhere in them masked.
const SECRET_KEY = /^(password|signingKey|authorization|proxy-authorization|cookie|set-cookie|x-oose-token)$/i;
const REQUEST_KEY = /^(request|req|options)$/;
const CREDENTIALS_IN_URL = /(\/\/)[^/@\s]*:[^/@\s]*@/g;
const MAX_DEPTH = 5;

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return value.replace(CREDENTIALS_IN_URL, "$1[redacted]@");
  if (!value || typeof value !== "object") return value;
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  if (depth >= MAX_DEPTH) return "[object]";
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_KEY.test(key)) out[key] = "[redacted]";
    else if (REQUEST_KEY.test(key) && v && typeof v === "object") out[key] = requestLine(v as Record<string, unknown>);
    else if (key === "command" && v && typeof v === "object") out[key] = { name: (v as { name?: unknown }).name };
    else out[key] = scrub(v, depth + 1);
  }
  return out;
}

const requestLine = (req: Record<string, unknown>) => ({ method: scrub(req.method, MAX_DEPTH), url: scrub(req.url, MAX_DEPTH) });

const safeError = (value: unknown) => scrub(value instanceof Error ? pino.stdSerializers.err(value) : value);

const options = {
  level: process.env.OOSE_LOG_LEVEL ?? "info",
  redact: { paths: REDACT, censor: "[redacted]" },
  serializers: { err: safeError, error: safeError, cause: safeError },
  base: undefined,
};
const root = pino(options);

/** A logger for one part of the system, e.g. ("prism", "prism1") or ("store", "store2", "verify"). */
export function logger(...scope: string[]): Logger {
  const child = root.child({ scope: scope.join(":") });
  if (createDebug.enabled(`oose:${scope.join(":")}`)) child.level = "debug";
  return child;
}

let cliRoot: Logger | undefined;

/**
 * A logger for an operator command. Its reports go to stdout, so its logs go
 * to stderr, written at once: a late log line can never follow the report.
 */
export function cliLogger(name: string): Logger {
  cliRoot ??= pino(options, pino.destination({ dest: 2, sync: true }));
  const child = cliRoot.child({ scope: `cli:${name}` });
  if (createDebug.enabled(`oose:cli:${name}`)) child.level = "debug";
  return child;
}

export type { Logger };

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

const options = {
  level: process.env.OOSE_LOG_LEVEL ?? "info",
  redact: { paths: REDACT, censor: "[redacted]" },
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

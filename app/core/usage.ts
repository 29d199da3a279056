import path from "node:path";
import { type Static, Type as T } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";

// The store nginx's JSON access log: one file per day, named by the date of its
// lines, and the sums `oose usage` makes of it. Pure: the follower and the CLI
// read the files.

/** A day's log, as nginx names it; `.gz` once the store node has compressed it. */
export const ACCESS_LOG_FILE = /^access-(\d{4}-\d{2}-\d{2})\.log(\.gz|)$/;
export const accessLogFile = (day: string) => `access-${day}.log`;

/** Where a store's nginx writes it: `accessLog.dir`, or `<dataRoot>/access-log`. */
export const accessLogDir = (c: { dataRoot: string; accessLog: { dir?: string } }) =>
  c.accessLog.dir ?? path.join(c.dataRoot, "access-log");

/** One line, as nginx/store.ts's `log_format oose_json` writes it; further fields are allowed. */
export const AccessLine = T.Object({
  /** ISO 8601 with the store's UTC offset, second precision ($time_iso8601). */
  time: T.String(),
  store: T.String(),
  client: T.String(),
  method: T.String(),
  path: T.String(),
  /** The purchase token of a signed link; "" for /static and links signed without one. */
  token: T.String(),
  /** The content hash of a /c/ or /static/ path; "" for anything else. */
  hash: T.String(),
  status: T.Integer(),
  /** Body bytes sent ($body_bytes_sent). */
  bytes: T.Integer({ minimum: 0 }),
  referer: T.String(),
  user_agent: T.String(),
  /** Seconds, millisecond precision. */
  request_time: T.Number(),
});
export type AccessLine = Static<typeof AccessLine>;

const checkLine = TypeCompiler.Compile(AccessLine);

/** The line and its time in ms, or undefined for anything malformed. */
export function parseAccessLine(line: string): { line: AccessLine; at: number } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!checkLine.Check(v)) return undefined;
  const at = Date.parse(v.time);
  return Number.isNaN(at) ? undefined : { line: v, at };
}

export const USAGE_BY = ["token", "hash", "referrer"] as const;
export type UsageBy = (typeof USAGE_BY)[number];

/** The host of a Referer, lower-cased; undefined when there is none or it is not a URL. */
export function referrerHost(referer: string): string | undefined {
  if (!referer) return undefined;
  try {
    return new URL(referer).hostname.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

export interface UsageRow {
  /** null: lines without one (no token, no hash, no Referer). */
  key: string | null;
  requests: number;
  bytes: number;
}

export interface UsageReport {
  by: UsageBy;
  /** ISO times of the range; from is inclusive, to exclusive. */
  from: string | null;
  to: string | null;
  lines: number;
  malformed: number;
  /** Well-formed lines outside the range. */
  outside: number;
  total: { requests: number; bytes: number };
  /** Most bytes first. */
  rows: UsageRow[];
}

/** Sums requests and body bytes per key over the lines it is given. */
export class UsageTally {
  private readonly sums = new Map<string | null, UsageRow>();
  private lines = 0;
  private malformed = 0;
  private outside = 0;

  constructor(private readonly o: { by: UsageBy; from?: number; to?: number }) {}

  add(text: string): void {
    if (!text.trim()) return;
    this.lines++;
    const parsed = parseAccessLine(text);
    if (!parsed) {
      this.malformed++;
      return;
    }
    const { line, at } = parsed;
    if ((this.o.from !== undefined && at < this.o.from) || (this.o.to !== undefined && at >= this.o.to)) {
      this.outside++;
      return;
    }
    const key =
      (this.o.by === "token" ? line.token : this.o.by === "hash" ? line.hash : referrerHost(line.referer)) || null;
    let row = this.sums.get(key);
    if (!row) {
      row = { key, requests: 0, bytes: 0 };
      this.sums.set(key, row);
    }
    row.requests++;
    row.bytes += line.bytes;
  }

  report(): UsageReport {
    const rows = [...this.sums.values()].sort(
      (a, b) => b.bytes - a.bytes || b.requests - a.requests || String(a.key).localeCompare(String(b.key)),
    );
    const iso = (ms?: number) => (ms === undefined ? null : new Date(ms).toISOString());
    return {
      by: this.o.by,
      from: iso(this.o.from),
      to: iso(this.o.to),
      lines: this.lines,
      malformed: this.malformed,
      outside: this.outside,
      total: rows.reduce((t, r) => ({ requests: t.requests + r.requests, bytes: t.bytes + r.bytes }), {
        requests: 0,
        bytes: 0,
      }),
      rows,
    };
  }
}

/**
 * The files of a log directory to read, oldest first: a day's `.gz` is skipped while its plain file is
 * still there (the node is compressing it, and both hold the same lines).
 */
export function logFilesOf(names: string[]): string[] {
  const plain = new Set(names.filter((n) => ACCESS_LOG_FILE.exec(n)?.[2] === ""));
  return names
    .filter((n) => {
      const m = ACCESS_LOG_FILE.exec(n);
      return m !== null && (m[2] === "" || !plain.has(n.slice(0, -3)));
    })
    .sort();
}

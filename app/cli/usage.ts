import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { rawConfig } from "../config.js";
import { accessLogDir, logFilesOf, USAGE_BY, type UsageBy, type UsageReport, UsageTally } from "../core/usage.js";
import { defineCommand } from "./common.js";
import { action, EXIT, fmtBytes, setting, UsageError } from "./ops.js";

// `oose usage`: requests and bytes per purchase token, hash or referrer host,
// summed from store nginx access logs (folders or files, gzipped ones included).
// Run it where the logs are: on a store (its config names the folder) or over
// copies gathered from several.

interface UsageFlags {
  by: string;
  from?: string;
  to?: string;
  json?: boolean;
}

function time(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms))
    throw new UsageError(`${flag}: not a time: "${raw}" (ISO 8601, e.g. 2026-12-01 or 2026-12-01T12:00Z)`);
  return ms;
}

/** This node's own log folder, when run with a store's config. */
function ownDir(): string {
  const raw = rawConfig();
  if (raw.role !== "store" || typeof raw.dataRoot !== "string")
    throw new UsageError("which logs? name folders or files (or run with a store's config)");
  return accessLogDir({ dataRoot: raw.dataRoot, accessLog: setting(raw, "accessLog") });
}

/** The files behind each argument: a folder's day files (oldest first), or the file itself. */
async function filesOf(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    const st = await stat(arg).catch(() => {
      throw new UsageError(`${arg}: no such file or folder`);
    });
    if (st.isDirectory()) out.push(...logFilesOf(await readdir(arg)).map((n) => path.join(arg, n)));
    else out.push(arg);
  }
  return out;
}

async function readInto(file: string, tally: UsageTally): Promise<void> {
  const raw = createReadStream(file);
  const input = file.endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
  raw.on("error", (err) => input.destroy(err));
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) tally.add(line);
}

function printTable(r: UsageReport, files: number, unreadable: string[]): void {
  const head = r.by === "referrer" ? "REFERRER HOST" : r.by.toUpperCase();
  const width = Math.max(head.length, ...r.rows.map((x) => (x.key ?? "-").length)) + 2;
  console.log(`${head.padEnd(width)}${"REQUESTS".padStart(10)}  ${"BYTES".padStart(16)}`);
  for (const x of r.rows)
    console.log(
      `${(x.key ?? "-").padEnd(width)}${String(x.requests).padStart(10)}  ${String(x.bytes).padStart(16)}  ${fmtBytes(x.bytes).padStart(10)}`,
    );
  const t = r.total;
  console.log(
    `${"TOTAL".padEnd(width)}${String(t.requests).padStart(10)}  ${String(t.bytes).padStart(16)}  ${fmtBytes(t.bytes).padStart(10)}`,
  );
  const range = `${r.from ?? "the start"} to ${r.to ?? "the end"}`;
  console.log(
    `\n${r.lines} lines in ${files} files, from ${range}; ${r.outside} outside the range, ${r.malformed} malformed (skipped)`,
  );
  for (const f of unreadable) console.log(`unreadable: ${f}`);
}

async function usage(flags: UsageFlags, paths: string[] = []): Promise<number> {
  if (!(USAGE_BY as readonly string[]).includes(flags.by))
    throw new UsageError(`--by: one of ${USAGE_BY.join(", ")}, not "${flags.by}"`);
  const [from, to] = [time("--from", flags.from), time("--to", flags.to)];
  if (from !== undefined && to !== undefined && to <= from) throw new UsageError("--to must be after --from");
  const files = await filesOf(paths.length > 0 ? paths : [ownDir()]);
  const tally = new UsageTally({ by: flags.by as UsageBy, from, to });
  const unreadable: string[] = [];
  for (const file of files) {
    try {
      await readInto(file, tally);
    } catch (err) {
      // A truncated .gz still gave its lines up to the damage; the rest of the files count.
      unreadable.push(`${file}: ${(err as Error).message}`);
    }
  }
  const report = tally.report();
  if (flags.json) console.log(JSON.stringify({ ...report, files: files.length, unreadable }));
  else printTable(report, files.length, unreadable);
  return unreadable.length > 0 ? EXIT.failed : EXIT.ok;
}

defineCommand((program) => {
  program
    .command("usage")
    .description("requests and bytes per purchase token, hash or referrer host, from store nginx access logs")
    .argument("[paths...]", "log folders or files, .gz included (default: this store's accessLog.dir)")
    .option("--by <key>", "token, hash or referrer", "token")
    .option("--from <time>", "from this time on (ISO 8601, inclusive)")
    .option("--to <time>", "until this time (ISO 8601, exclusive)")
    .option("--json", "one JSON report on stdout")
    .action(action<UsageFlags>((flags, paths) => usage(flags, paths as unknown as string[])));
});

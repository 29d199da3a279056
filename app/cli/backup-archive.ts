import { once } from "node:events";
import { chmodSync, createReadStream, createWriteStream, renameSync, rmSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";

// The backup archive: gzipped NDJSON (node's zlib), one JSON value a line. A
// header first, then one record per CouchDB doc or Redis key, then an end
// record with the counts. gzip's CRC catches a damaged file, the end record a
// truncated one, the header a foreign one. Written to `<file>.partial` with
// mode 0600 and renamed when complete, so a crash never leaves a file that
// looks whole.

export const FORMAT = "oose-backup";
export const VERSION = 1;
/** A line longer than this is not ours (a foreign file must not fill memory). */
const MAX_LINE = 64 * 1024 * 1024;

export interface Header {
  format: typeof FORMAT;
  version: number;
  createdAt: string;
  /** The source's CouchDB base name and Redis prefix (the target's own are used on restore). */
  database: string;
  prefix: string;
}

/** A CouchDB doc, without its _rev; `db` is a database kind (peer, inventory, …) or `_users`. */
export interface DocRecord {
  db: string;
  doc: { _id: string } & Record<string, unknown>;
}

export type RedisValue =
  | { type: "hash"; value: Record<string, string> }
  | { type: "string"; value: string }
  | { type: "set"; value: string[] };

/** A Redis key, named without the prefix; expiresAt in ms since the epoch, null for none. */
export type KeyRecord = { redis: string; key: string; expiresAt: number | null } & RedisValue;

export interface End {
  end: true;
  records: number;
  counts: Record<string, number>;
}

export type BackupRecord = DocRecord | KeyRecord;

export class ArchiveError extends Error {}

export interface ArchiveWriter {
  write(record: BackupRecord): Promise<void>;
  /** Writes the end record, closes, and renames the file into place. */
  finish(counts: Record<string, number>): Promise<void>;
  /** Drops the partial file. */
  abort(): Promise<void>;
}

export function writeArchive(file: string, header: Header): ArchiveWriter {
  const partial = `${file}.partial`;
  rmSync(partial, { force: true }); // a crashed run's leftover
  const gzip = createGzip();
  const out = createWriteStream(partial, { mode: 0o600, flags: "wx" });
  const done = pipeline(gzip, out);
  done.catch(() => undefined); // awaited in finish/abort
  let records = 0;
  const line = async (value: unknown) => {
    if (!gzip.write(`${JSON.stringify(value)}\n`)) await Promise.race([once(gzip, "drain"), done]);
  };
  const first = line(header);
  return {
    async write(record) {
      await first;
      records++;
      await line(record);
    },
    async finish(counts) {
      await first;
      await line({ end: true, records, counts } satisfies End);
      gzip.end();
      await done;
      chmodSync(partial, 0o600);
      renameSync(partial, file);
    },
    async abort() {
      gzip.destroy();
      await done.catch(() => undefined);
      rmSync(partial, { force: true });
    },
  };
}

/** The archive's lines, parsed; a damaged gzip stream or a line that is not JSON is an ArchiveError. */
async function* values(file: string): AsyncGenerator<unknown> {
  const gunzip = createGunzip();
  const src = createReadStream(file);
  src.on("error", (err) => gunzip.destroy(err));
  src.pipe(gunzip);
  const decoder = new StringDecoder("utf8");
  let rest = "";
  let n = 0;
  const parse = (text: string) => {
    n++;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ArchiveError(`line ${n} is not JSON`);
    }
  };
  try {
    for await (const chunk of gunzip) {
      const lines = (rest + decoder.write(chunk as Buffer)).split("\n");
      rest = lines.pop()!;
      if (rest.length > MAX_LINE) throw new ArchiveError(`line ${n + 1} is longer than ${MAX_LINE} bytes`);
      for (const l of lines) yield parse(l);
    }
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT" || e.code === "EACCES") throw new ArchiveError(e.message);
    throw new ArchiveError(`not a readable gzip stream (${e.message}): damaged, truncated or not a backup`);
  }
  rest += decoder.end();
  if (rest.length > 0) yield parse(rest);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");

function checkHeader(v: unknown): Header {
  if (!isObj(v) || v.format !== FORMAT) throw new ArchiveError("not an OOSE backup (its first line is no header)");
  if (v.version !== VERSION) throw new ArchiveError(`backup format version ${String(v.version)} is not supported`);
  if (typeof v.database !== "string" || typeof v.prefix !== "string" || typeof v.createdAt !== "string")
    throw new ArchiveError("the header lacks database, prefix or createdAt");
  return v as unknown as Header;
}

function checkRecord(v: unknown, n: number): BackupRecord | End {
  const bad = (why: string) => new ArchiveError(`record ${n}: ${why}`);
  if (!isObj(v)) throw bad("not an object");
  if (v.end === true) return v as unknown as End;
  if (typeof v.db === "string") {
    if (!isObj(v.doc) || typeof v.doc._id !== "string") throw bad("a doc without _id");
    return v as unknown as DocRecord;
  }
  if (typeof v.redis !== "string" || typeof v.key !== "string") throw bad("neither a doc nor a Redis key");
  if (v.expiresAt !== null && typeof v.expiresAt !== "number") throw bad("bad expiresAt");
  const ok =
    (v.type === "hash" && isObj(v.value) && Object.values(v.value).every((s) => typeof s === "string")) ||
    (v.type === "string" && typeof v.value === "string") ||
    (v.type === "set" && strings(v.value));
  if (!ok) throw bad(`bad ${String(v.type)} value`);
  return v as unknown as KeyRecord;
}

/** Reads a whole archive and checks it: header, every record's shape, and the end record's count. */
export async function readArchive(
  file: string,
  each: (record: BackupRecord) => void | Promise<void> = () => undefined,
): Promise<{ header: Header; end: End }> {
  let header: Header | undefined;
  let end: End | undefined;
  let n = 0;
  for await (const v of values(file)) {
    if (!header) {
      header = checkHeader(v);
      continue;
    }
    if (end) throw new ArchiveError("data after the end record");
    const r = checkRecord(v, ++n);
    if ("end" in r) end = r;
    else await each(r);
  }
  if (!header) throw new ArchiveError("empty archive");
  if (!end) throw new ArchiveError(`truncated: no end record after ${n} records`);
  if (end.records !== n - 1)
    throw new ArchiveError(`the end record counts ${end.records} records, the file has ${n - 1}`);
  return { header, end };
}

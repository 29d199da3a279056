import { createReadStream, createWriteStream } from "node:fs";
import { open, readdir, rename, stat, unlink, utimes } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { ACCESS_LOG_FILE, parseAccessLine } from "../core/usage.js";
import type { Logger } from "../log.js";
import { nginxBytesSent, nginxRequests } from "../metrics/index.js";

// The store follows its own nginx's access log: the numbers of oose_nginx_* are
// nginx's, counted from the lines it wrote, never the node's guess. Following
// starts at the end of the newest file (counters start at zero with the
// process), goes on from its offset at each poll, and moves to the next day's
// file once one appears. Past days are gzipped and, past the retention, deleted.

const CHUNK = 64 * 1024;
/** A line longer than this is not nginx's (its lines are bounded by the header limits): dropped. */
const MAX_LINE = 64 * 1024;
const HOUSEKEEPING_MS = 60_000;
/** A past day's file untouched this long is closed in nginx (open_log_file_cache inactive=20s). */
const SETTLED_MS = 120_000;
const DAY_MS = 86_400_000;

export interface AccessLogDeps {
  dir: string;
  pollMs: number;
  retentionDays: number;
  compress: boolean;
  log: Logger;
  now?: () => number;
}

export class AccessLogFollower {
  /** The file being followed and how far it has been read. */
  private file?: string;
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);
  private started = false;
  private lastHousekeeping = 0;
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private running?: Promise<void>;
  private failing = false;
  /** Lines that were not the log format; kept for the logs and the tests. */
  malformed = 0;
  private readonly now: () => number;

  constructor(private readonly d: AccessLogDeps) {
    this.now = d.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      this.running = this.poll();
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.d.pollMs);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One round: new lines of the followed file, then of any newer day; housekeeping now and then. Never throws. */
  async poll(): Promise<void> {
    try {
      await this.follow();
      if (this.now() - this.lastHousekeeping >= HOUSEKEEPING_MS) {
        this.lastHousekeeping = this.now();
        await this.housekeeping();
      }
      if (this.failing) this.d.log.info({ dir: this.d.dir }, "access log: readable again");
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.d.log.warn({ dir: this.d.dir, err: (err as Error).message }, "access log: cannot read");
      this.failing = true;
    }
  }

  private async days(): Promise<string[]> {
    const names = await readdir(this.d.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    });
    return names.filter((n) => ACCESS_LOG_FILE.exec(n)?.[2] === "").sort();
  }

  private async follow(): Promise<void> {
    const days = await this.days();
    if (!this.started) {
      const newest = days.at(-1);
      if (newest) this.offset = (await stat(path.join(this.d.dir, newest))).size;
      this.file = newest;
      this.started = true;
      return;
    }
    if (this.file) await this.drain(this.file);
    for (const next of days.filter((n) => this.file === undefined || n > this.file)) {
      // The day before may still have had a last line in flight: it was drained just above.
      this.file = next;
      this.offset = 0;
      this.partial = Buffer.alloc(0);
      await this.drain(next);
    }
  }

  /** Reads the file from the offset to its end, a chunk at a time, counting each whole line. */
  private async drain(name: string): Promise<void> {
    const fh = await open(path.join(this.d.dir, name), "r").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (!fh) return;
    try {
      const { size } = await fh.stat();
      if (size < this.offset) {
        // Truncated behind our back: what is there now is new.
        this.offset = 0;
        this.partial = Buffer.alloc(0);
      }
      const buf = Buffer.alloc(CHUNK);
      while (this.offset < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - this.offset), this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.lines(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }

  private lines(chunk: Buffer): void {
    let data = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
      this.count(data.subarray(0, nl).toString("utf8"));
      data = data.subarray(nl + 1);
    }
    if (data.length > MAX_LINE) {
      this.malformed++;
      data = Buffer.alloc(0);
    }
    this.partial = Buffer.from(data);
  }

  private count(text: string): void {
    if (!text.trim()) return;
    const parsed = parseAccessLine(text);
    if (!parsed) {
      this.malformed++;
      return;
    }
    nginxRequests.inc({ status: String(parsed.line.status) });
    if (parsed.line.bytes > 0) nginxBytesSent.inc(parsed.line.bytes);
  }

  /** gzips past days once nginx has let go of them, and deletes files past the retention; never the followed one. */
  private async housekeeping(): Promise<void> {
    const now = this.now();
    for (const name of await readdir(this.d.dir).catch(() => [])) {
      const m = ACCESS_LOG_FILE.exec(name);
      if (!m || name === this.file) continue;
      const gz = m[2] === ".gz";
      const file = path.join(this.d.dir, name);
      const { mtimeMs } = await stat(file);
      if (this.d.retentionDays > 0 && now - mtimeMs > this.d.retentionDays * DAY_MS) {
        await unlink(file);
        this.d.log.info({ file: name }, "access log: deleted past the retention");
      } else if (this.d.compress && !gz && this.file && name < this.file && now - mtimeMs > SETTLED_MS) {
        await this.gzip(file);
      }
    }
  }

  /** Written under a name outside the pattern, then renamed: `oose usage` never sees half a file. */
  private async gzip(file: string): Promise<void> {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.gz.tmp`);
    try {
      await pipeline(createReadStream(file), createGzip(), createWriteStream(tmp));
      // The retention counts from the last line, not from the compression.
      const { atime, mtime } = await stat(file);
      await utimes(tmp, atime, mtime);
      await rename(tmp, `${file}.gz`);
      await unlink(file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}

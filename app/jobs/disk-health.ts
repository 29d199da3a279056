import { mkdir, open } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../log.js";

// The store's half of the prisms' disk probe: the node rewrites a small file on
// its disk and fsyncs it, and its nginx serves that file with no file cache.
// A disk that stops answering reads fails nginx's open; one that stops taking
// writes leaves the file's mtime behind, which the probe sees as staleness.
// The file is rewritten in place, so its permissions (and an operator's or a
// test's changes to them) stay as they are; it is created by the first write
// only, so a disk unmounted under a running store fails the probe rather than
// getting a fresh file on the folder beneath.

/** Where the health file lives, relative to the data root (beside the content folder, on the same disk). */
export const DISK_HEALTH_FILE = "health/disk";
/** Where the store's nginx serves it. */
export const DISK_HEALTH_PATH = "/healthz/disk";

export interface DiskHealthDeps {
  dataRoot: string;
  /** ms between the end of one write and the start of the next. */
  interval: number;
  log: Logger;
  now?: () => number;
}

export class DiskHealthWriter {
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private failing = false;
  private created = false;
  private readonly file: string;
  private readonly now: () => number;

  constructor(private readonly d: DiskHealthDeps) {
    this.file = path.join(d.dataRoot, DISK_HEALTH_FILE);
    this.now = d.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    void this.loop();
  }

  /** A write stuck on a hung disk is not waited for: it ends with the disk, or with the process. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Writes the current time into the health file and fsyncs it; throws what the disk answered. */
  async write(): Promise<void> {
    const fh = this.created ? await open(this.file, "r+") : await this.create();
    try {
      // Always the same length (an ISO time), so writing over the old one needs no truncation.
      await fh.writeFile(`${new Date(this.now()).toISOString()}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.created = true;
  }

  private async create() {
    await mkdir(path.dirname(this.file), { recursive: true });
    return open(this.file, "w");
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.write();
      if (this.failing) this.d.log.info({ file: this.file }, "disk health: the health file is written again");
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.d.log.warn({ file: this.file, err: (err as Error).message }, "disk health: cannot write the health file");
      this.failing = true;
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.loop(), this.d.interval);
    this.timer.unref();
  }
}

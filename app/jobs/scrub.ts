import { stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Config } from "../config.js";
import { TokenBucket } from "../core/bucket.js";
import type { InventoryDoc } from "../core/inventory.js";
import { eachLimit } from "../core/limit.js";
import type { LocalCopies } from "../core/ports/blobs.js";
import type { Inventory } from "../core/ports/inventory.js";
import type { JobState } from "../core/ports/job-state.js";
import { ContentNotFound } from "../errors.js";
import type { Logger } from "../log.js";
import { corruptCopies, oldestVerification, scrubProgress } from "../metrics/index.js";
import { isDue } from "./verify.js";

// Scrubbing: a store re-hashes each of its copies against its content address
// once the copy's last verification is older than scrub.cadence, reading at
// most scrub.bytesPerSecond, scrub.concurrency copies at a time (their
// verifiedAt writes share CouchDB requests). The store's own verify does the work: a good copy
// gets verifiedAt = now; a corrupt one is removed with its doc and announced,
// and the heal job brings the file back to count; a doc whose file is gone is
// dropped the same way. The pass lives in the JobState (<prefix>:scrub:<store>): a
// restarted store resumes it with its counts, and what was verified before the
// stop is within the cadence, so it is not hashed again. A content folder that
// moved to another device since the store started (its disk was unmounted)
// pauses the scrub: it would otherwise drop the doc of every copy.

interface PassCounts {
  /** Copies re-hashed, and their bytes. */
  checked: number;
  bytes: number;
  corrupt: number;
  /** Docs whose file was gone (dropped). */
  missing: number;
}

export interface ScrubStatus extends PassCounts {
  state: "scrubbing" | "done";
  store: string;
  /** The last copy looked at. */
  cursor?: string;
  /** Docs looked at in this reading of the pages. */
  seen: number;
  /** Copies that could not be checked now (tried again next pass). */
  failed: number;
  /** The oldest verification among the copies seen (ms since the epoch); null if none was verified. */
  oldestVerifiedAt: number | null;
  /** Copies seen that were never verified. */
  unverified: number;
  startedAt: string;
  finishedAt?: string;
  /** Time spent on this pass (ms). */
  ms: number;
  bytesPerSec: number;
  /** Since the store's first pass. */
  total: PassCounts;
  /** The last finished pass, while the next one runs. */
  last?: Omit<ScrubStatus, "last" | "total">;
}

export const scrubKey = (prefix: string, store: string) => `${prefix}:scrub:${store}`;

/**
 * How far a pass is, 0..1, from the last hash it reached: pages run in hash order and hashes spread evenly,
 * so the hash's place among all hashes tells without counting the store's copies (which would cost a query).
 */
export function hashFraction(hash: string | undefined): number {
  const head = Number.parseInt((hash ?? "").slice(0, 12), 16);
  return Number.isFinite(head) ? Math.min(1, head / 16 ** 12) : 0;
}

/** The age gauge's reference: the oldest verification a finished pass saw (that pass, or the one before a running one). */
function showOldest(status: ScrubStatus): void {
  const at = status.state === "done" ? status.oldestVerifiedAt : status.last?.oldestVerifiedAt;
  oldestVerification.at = at ?? undefined;
}

/** Progress is written at least this often while a pass hashes (and after every page). */
const REPORT_EVERY = 5000;

export interface ScrubDeps {
  inventory: Pick<Inventory, "copyPages">;
  state: JobState;
  content: Pick<LocalCopies, "verify">;
  config: Config;
  log: Logger;
  now?: () => number;
}

const zero = (): PassCounts => ({ checked: 0, bytes: 0, corrupt: 0, missing: 0 });

export class Scrub {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private abort = new AbortController();
  private readonly bucket: TokenBucket;
  private readonly now: () => number;
  private readonly key: string;
  private lastReport = 0;
  /** The device of the content folder when the first pass began. */
  private device?: number;

  constructor(private readonly d: ScrubDeps) {
    const { bytesPerSecond } = d.config.scrub;
    this.now = d.now ?? Date.now;
    this.key = scrubKey(d.config.redis.prefix, d.config.name);
    this.bucket = new TokenBucket(bytesPerSecond, bytesPerSecond, this.now);
  }

  start(): void {
    this.abort = new AbortController();
    // A few ticks per interval: a new pass starts close to `interval` after the last, and a cut one resumes soon.
    const tick = Math.max(100, Math.ceil(this.d.config.scrub.interval / 4));
    this.timer = setInterval(() => {
      this.running ??= this.run()
        .catch((err) => this.d.log.warn({ err: (err as Error).message }, "scrub run failed"))
        .finally(() => {
          this.running = undefined;
        });
    }, tick);
    this.timer.unref();
  }

  /** Stops scheduling and waits for the copy being hashed; the pass resumes at the next start. */
  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.timer);
    await this.running;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Starts or resumes a pass if one is due. */
  async run(): Promise<void> {
    if (this.stopped) return;
    const saved = await this.load();
    if (saved) showOldest(saved);
    const since = saved?.finishedAt ? this.now() - Date.parse(saved.finishedAt) : Infinity;
    if (saved?.state === "done" && since < this.d.config.scrub.interval) return;
    const status = saved?.state === "scrubbing" ? this.resumed(saved) : this.fresh(saved);
    this.lastReport = this.now();
    const { name, scrub } = this.d.config;
    // Pages start after the last doc seen, so the docs a verify drops never shift them.
    for await (const page of this.d.inventory.copyPages("store", name, { pageSize: scrub.pageSize })) {
      if (!(await this.sameDisk())) return this.report(status, true);
      await eachLimit(page, scrub.concurrency, async (doc) => {
        if (!this.stopped) await this.check(doc, status);
      });
      if (this.stopped) return this.report(status, true);
      await this.report(status, false);
    }
    status.state = "done";
    status.finishedAt = new Date(this.now()).toISOString();
    delete status.cursor;
    await this.report(status, true);
  }

  private async check(doc: InventoryDoc, status: ScrubStatus): Promise<void> {
    status.seen++;
    status.cursor = doc.hash;
    if (!isDue(doc, this.now(), this.d.config.scrub.cadence, false)) {
      this.seenVerified(status, doc.verifiedAt ?? null);
      return;
    }
    await this.throttle(doc.size);
    if (this.stopped) return;
    if (this.now() - this.lastReport >= REPORT_EVERY) await this.report(status, false);
    try {
      const reply = await this.d.content.verify(doc.hash, true, doc);
      this.count(status, "checked", 1);
      this.count(status, "bytes", doc.size);
      if (reply.status === "ok") {
        this.seenVerified(status, reply.verifiedAt ?? this.now());
        return;
      }
      this.count(status, "corrupt", 1);
      corruptCopies.inc();
      this.d.log.warn({ hash: doc.hash, actual: reply.actualHash }, "scrub: corrupt copy removed");
    } catch (err) {
      if (err instanceof ContentNotFound) {
        this.count(status, "missing", 1);
        this.d.log.warn({ hash: doc.hash }, "scrub: file gone; its doc is dropped");
        return;
      }
      status.failed++;
      this.seenVerified(status, doc.verifiedAt ?? null);
      this.d.log.warn({ hash: doc.hash, err: (err as Error).message }, "scrub: copy not checked");
    }
  }

  private async sameDisk(): Promise<boolean> {
    const dir = path.join(this.d.config.dataRoot, "content");
    const device = await stat(dir).then(
      (st) => st.dev,
      () => undefined,
    );
    this.device ??= device;
    if (device !== undefined && device === this.device) return true;
    this.d.log.error({ dir, device, was: this.device }, "scrub: the content folder is not on its disk; scrub paused");
    return false;
  }

  private count(status: ScrubStatus, what: keyof PassCounts, n: number): void {
    status[what] += n;
    status.total[what] += n;
  }

  private seenVerified(status: ScrubStatus, at: number | null): void {
    if (at === null) status.unverified++;
    else status.oldestVerifiedAt = Math.min(status.oldestVerifiedAt ?? at, at);
  }

  private async throttle(bytes: number): Promise<void> {
    const wait = this.bucket.reserve(bytes);
    if (wait > 0) await sleep(wait, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  private load(): Promise<ScrubStatus | undefined> {
    return this.d.state.read<ScrubStatus>(this.key);
  }

  /** The pass's counts carry on; what is seen is read again from the first page. */
  private resumed(saved: ScrubStatus): ScrubStatus {
    this.d.log.info({ cursor: saved.cursor, checked: saved.checked }, "scrub: resuming the pass");
    return { ...saved, seen: 0, oldestVerifiedAt: null, unverified: 0 };
  }

  private fresh(saved: ScrubStatus | undefined): ScrubStatus {
    let last: ScrubStatus["last"];
    if (saved) {
      const { last: _, total: __, ...pass } = saved;
      last = pass;
    }
    return {
      state: "scrubbing",
      store: this.d.config.name,
      ...zero(),
      seen: 0,
      failed: 0,
      oldestVerifiedAt: null,
      unverified: 0,
      startedAt: new Date(this.now()).toISOString(),
      ms: 0,
      bytesPerSec: 0,
      total: saved?.total ?? zero(),
      ...(last ? { last } : {}),
    };
  }

  private async report(status: ScrubStatus, final: boolean): Promise<void> {
    const now = this.now();
    status.ms += now - this.lastReport;
    this.lastReport = now;
    status.bytesPerSec = Math.round((status.bytes * 1000) / Math.max(1, status.ms));
    scrubProgress.set(status.state === "done" ? 1 : hashFraction(status.cursor));
    showOldest(status);
    const { last, total, ...progress } = status;
    if (final) this.d.log.info(progress, status.state === "done" ? "scrub: pass finished" : "scrub: pass paused");
    else this.d.log.debug(progress, "scrub: progress");
    await this.d.state.write(this.key, status).catch(() => undefined);
  }
}

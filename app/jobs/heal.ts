import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Config } from "../config.js";
import { TokenBucket } from "../core/bucket.js";
import { parseCopyId } from "../core/inventory.js";
import { eachLimit } from "../core/limit.js";
import { isLive } from "../core/peer.js";
import type { Inventory } from "../core/ports/inventory.js";
import type { JobState } from "../core/ports/job-state.js";
import type { Lease, Leases } from "../core/ports/lease.js";
import type { PeerView } from "../core/ports/peers.js";
import type { Logger } from "../log.js";
import type { Copies } from "../routing/copies.js";

// Continuous healing. One prism at a time (a lease in Redis) pages the whole
// inventory in key order, where a hash's copies are adjacent, and brings every
// file held fewer than `replicas` times back to count with Copies.add (so
// placement keeps its failure-domain rules), whatever made it short: a copy
// PUT onto one store by hand, a corrupt copy the scrub removed, a lost disk, an
// upload that landed fewer copies. It only ever adds copies.
// A copy counts as held while its store is live, or down for less than
// heartbeat.repairAfter (a restart must not set off copies). Files with a copy
// younger than heal.grace wait for the next pass: their upload may still be
// landing the others. The cursor (the last hash done) and the counts live in
// Redis, so a pass cut short is resumed by the next runner, on any prism.
//
// Keys (JobState and Leases): <prefix>:heal:lock (the lease) and <prefix>:heal:status (JSON).

interface HealCounts {
  /** Found with fewer held copies than `replicas`. */
  short: number;
  /** Brought back to count. */
  healed: number;
  /** Copies made, and their bytes. */
  copied: number;
  bytes: number;
  /** Short files that could not be brought back this time (retried next pass). */
  failed: number;
}

export interface HealStatus extends HealCounts {
  state: "healing" | "done";
  runner: string;
  /** The last hash fully handled in this pass; the next run resumes after it. */
  cursor?: string;
  /** Hashes looked at. */
  hashes: number;
  /** Short files with no live copy to copy from. */
  unreachable: number;
  /** Short files left for the next pass: a copy is younger than heal.grace. */
  deferred: number;
  startedAt: string;
  finishedAt?: string;
  /** Time spent on this pass by its runners (ms). */
  ms: number;
  bytesPerSec: number;
  /** Since the first pass. */
  total: HealCounts;
  /** When a file was last brought back to count. */
  lastHealedAt?: string;
  /** What the last finished pass left: the data-safety metrics every prism reports. */
  lastPass?: PassResult;
}

export interface PassResult {
  /** Files still short of `replicas`, of which `noLive` have no live copy and `backlog` wait for the next pass. */
  under: number;
  noLive: number;
  backlog: number;
  /** When the pass finished (ms since the epoch). */
  at: number;
}

export const healKeys = (prefix: string) => ({ lock: `${prefix}:heal:lock`, status: `${prefix}:heal:status` });

export interface HealDeps {
  inventory: Pick<Inventory, "idsAfter">;
  state: JobState;
  leases: Leases;
  peers: Pick<PeerView, "ready" | "healthy" | "store">;
  copies: Copies;
  config: Config;
  log: Logger;
  now?: () => number;
}

interface Group {
  hash: string;
  stores: string[];
}

export class Heal {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private abort = new AbortController();
  private readonly lease: Lease;
  private readonly bucket: TokenBucket;
  private readonly now: () => number;
  private readonly key: string;
  private lastReport = 0;

  constructor(private readonly d: HealDeps) {
    const keys = healKeys(d.config.redis.prefix);
    this.now = d.now ?? Date.now;
    this.key = keys.status;
    this.lease = d.leases.lease(keys.lock, `${d.config.name}:${randomUUID()}`, d.config.heal.lease);
    this.bucket = new TokenBucket(d.config.heal.bandwidth, d.config.heal.bandwidth, this.now);
  }

  start(): void {
    this.abort = new AbortController();
    // A few ticks per interval: a new pass starts close to `interval` after the last, and a cut one resumes soon.
    const tick = Math.max(100, Math.ceil(this.d.config.heal.interval / 4));
    this.timer = setInterval(() => {
      this.running ??= this.run()
        .catch((err) => this.d.log.warn({ err: (err as Error).message }, "heal run failed"))
        .finally(() => {
          this.running = undefined;
        });
    }, tick);
    this.timer.unref();
  }

  /** Stops scheduling, lets the copies in flight finish (the cursor keeps the rest), and frees the lease. */
  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.timer);
    await this.running;
  }

  /** Starts or resumes a pass if one is due and the lease is free. */
  async run(): Promise<void> {
    if (!this.d.peers.ready || !this.d.peers.healthy || this.abort.signal.aborted) return;
    if (!(await this.lease.acquire())) return;
    let lost = false;
    const renew = setInterval(
      () =>
        void this.lease.renew().then(
          (ours) => {
            lost ||= !ours;
          },
          () => undefined,
        ),
      Math.max(100, Math.floor(this.d.config.heal.lease / 3)),
    );
    const keepGoing = () => !this.abort.signal.aborted && !lost;
    try {
      const saved = await this.load();
      const since = saved?.finishedAt ? this.now() - Date.parse(saved.finishedAt) : Infinity;
      if (saved?.state === "done" && since < this.d.config.heal.interval) return;
      const status = saved?.state === "healing" ? { ...saved, runner: this.d.config.name } : this.fresh(saved);
      if (saved?.state === "healing") this.d.log.info({ cursor: saved.cursor }, "heal: resuming the pass");
      this.lastReport = this.now();
      if (await this.pass(status, keepGoing)) {
        status.state = "done";
        status.finishedAt = new Date(this.now()).toISOString();
        delete status.cursor;
        status.lastPass = {
          ...{ under: Math.max(0, status.short - status.healed), noLive: status.unreachable },
          ...{ backlog: status.deferred + status.failed, at: this.now() },
        };
      }
      await this.report(status, true);
    } finally {
      clearInterval(renew);
      await this.lease.release().catch(() => undefined);
    }
  }

  /** Pages on from the cursor; true when the whole inventory was looked at. */
  private async pass(status: HealStatus, keepGoing: () => boolean): Promise<boolean> {
    const { concurrency, pageSize } = this.d.config.heal;
    // A hash's copies may straddle pages: the last group of a page waits for the next.
    let open: Group | undefined;
    for await (const ids of this.d.inventory.idsAfter(status.cursor, pageSize)) {
      const done: Group[] = [];
      for (const id of ids) {
        const copy = parseCopyId(id);
        if (!copy) continue;
        if (open?.hash !== copy.hash) {
          if (open) done.push(open);
          open = { hash: copy.hash, stores: [] };
        }
        open.stores.push(copy.store);
      }
      await eachLimit(done, concurrency, (g) => this.check(g, status, keepGoing));
      // A page cut short is looked at again from its start: healing is idempotent.
      if (!keepGoing()) return false;
      if (done.length > 0) status.cursor = done.at(-1)!.hash;
      await this.report(status, false);
    }
    if (open) await this.check(open, status, keepGoing);
    return keepGoing();
  }

  private async check(g: Group, status: HealStatus, keepGoing: () => boolean): Promise<void> {
    if (!keepGoing()) return;
    status.hashes++;
    if (this.held(g.stores) >= this.d.config.replicas) return;
    try {
      await this.heal(g.hash, status);
    } catch (err) {
      this.count(status, "failed", 1);
      this.d.log.warn({ hash: g.hash, err: (err as Error).message }, "heal: file not healed");
    }
  }

  private async heal(hash: string, status: HealStatus): Promise<void> {
    const { replicas, heal } = this.d.config;
    // A fresh read: the page may be minutes old by now.
    const known = await this.d.copies.holders(hash);
    const { all, live } = known;
    const need = replicas - this.held(all.map((c) => c.store));
    if (need <= 0) return;
    this.count(status, "short", 1);
    if (live.length === 0) {
      status.unreachable++;
      return;
    }
    if (all.some((c) => this.now() - Date.parse(c.createdAt) < heal.grace)) {
      status.deferred++;
      return;
    }
    // After a wait for bandwidth the holders are read again; without one, the read above is fresh.
    const waited = await this.throttle(live[0]!.copy.size * need);
    if (this.abort.signal.aborted) return;
    const made = await this.d.copies.add(hash, need, waited ? {} : { known });
    this.count(status, "copied", made.length);
    this.count(
      status,
      "bytes",
      made.reduce((n, t) => n + t.bytes, 0),
    );
    if (made.length >= need) {
      this.count(status, "healed", 1);
      status.lastHealedAt = new Date(this.now()).toISOString();
      this.d.log.info({ hash, held: replicas - need, to: made.map((t) => t.to) }, "heal: file back to count");
    } else {
      this.count(status, "failed", 1);
      this.d.log.warn({ hash, need, made: made.length }, "heal: not enough copies made");
    }
  }

  private count(status: HealStatus, what: keyof HealCounts, n: number): void {
    status[what] += n;
    status.total[what] += n;
  }

  /** How many of these stores count as holding their copy. */
  private held(stores: string[]): number {
    return [...new Set(stores)].filter((name) => this.holds(name)).length;
  }

  private holds(store: string): boolean {
    const p = this.d.peers.store(store);
    if (!p) return false;
    if (isLive(p)) return true;
    // Down but not switched off: held until repairAfter, as repair waits too.
    if (!p.active || !p.unavailableSince) return false;
    return this.now() - Date.parse(p.unavailableSince) < this.d.config.heartbeat.repairAfter;
  }

  /** Waits for the bandwidth `bytes` need; true if it had to. */
  private async throttle(bytes: number): Promise<boolean> {
    const wait = this.bucket.reserve(bytes);
    if (wait > 0) await sleep(wait, undefined, { signal: this.abort.signal }).catch(() => undefined);
    return wait > 0;
  }

  private load(): Promise<HealStatus | undefined> {
    return this.d.state.read<HealStatus>(this.key);
  }

  private fresh(saved: HealStatus | undefined): HealStatus {
    return {
      state: "healing",
      runner: this.d.config.name,
      hashes: 0,
      short: 0,
      healed: 0,
      copied: 0,
      bytes: 0,
      failed: 0,
      unreachable: 0,
      deferred: 0,
      startedAt: new Date(this.now()).toISOString(),
      ms: 0,
      bytesPerSec: 0,
      total: saved?.total ?? { short: 0, healed: 0, copied: 0, bytes: 0, failed: 0 },
      ...(saved?.lastHealedAt ? { lastHealedAt: saved.lastHealedAt } : {}),
      ...(saved?.lastPass ? { lastPass: saved.lastPass } : {}),
    };
  }

  private async report(status: HealStatus, final: boolean): Promise<void> {
    const now = this.now();
    status.ms += now - this.lastReport;
    this.lastReport = now;
    status.bytesPerSec = Math.round((status.bytes * 1000) / Math.max(1, status.ms));
    const { runner, total, ...progress } = status;
    if (final) this.d.log.info(progress, status.state === "done" ? "heal: pass finished" : "heal: pass paused");
    else this.d.log.debug(progress, "heal: progress");
    await this.d.state.write(this.key, status).catch(() => undefined);
  }
}

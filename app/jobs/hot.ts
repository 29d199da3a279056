import { randomUUID } from "node:crypto";
import type { HotCounts } from "../core/ports/hot.js";
import type { Lease, Leases } from "../core/ports/lease.js";
import { holderOf, type StorePool } from "../routing/pool.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { hotAdded, hotRemoved } from "../metrics/index.js";
import type { Copies } from "../routing/copies.js";
import type { Removal } from "./removal.js";
import { HotCounter, windowBuckets } from "./hot-counter.js";
import { coolingDrops, deliveryLoad, wantedCopies } from "./hot-plan.js";

// Clone scaling on demand (OOSE 2.2's changelog promised it): runs on every
// prism, acts on one at a time (a lock with a lease, <prefix>:hot:lock). Each interval it
// reads the delivery counts of the sliding window; a hash past the threshold
// gets extra copies on the least-loaded stores (failure domains still first),
// up to maxReplicas, and the stores that got them are remembered. A hash that
// stayed below the threshold for coolAfter loses those extra copies again,
// down to the base replica count; copies it had before are never touched.

export interface HotScalerDeps {
  counts: HotCounts;
  leases: Leases;
  copies: Copies;
  removal: Removal;
  pool: StorePool;
  prefix: string;
  /** This prism's name, for the lock. */
  name: string;
  settings: Config["hot"];
  replicas: number;
  log: Logger;
  now?: () => number;
}

export class HotScaler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private readonly lock: Lease;
  private readonly now: () => number;

  constructor(private readonly d: HotScalerDeps) {
    this.lock = d.leases.lease(`${d.prefix}:hot:lock`, `${d.name}:${randomUUID()}`, d.settings.lease);
    this.now = d.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.lock.release().catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round()
        .then(() => undefined)
        .catch((err) => this.d.log.warn({ err: (err as Error).message }, "hot: round failed"))
        .finally(() => this.schedule());
    }, this.d.settings.interval);
    this.timer.unref();
  }

  /** Holds (or takes) the lock for another lease; false when another prism runs the job. */
  lease(): Promise<boolean> {
    return this.lock.acquire();
  }

  /** One round: scale up what is hot, then scale down what has cooled. */
  async round(): Promise<{ added: number; removed: number }> {
    if (!(await this.lease())) return { added: 0, removed: 0 };
    const now = this.now();
    const { window, threshold } = this.d.settings;
    const buckets = windowBuckets(now, window);
    const hot = await this.d.counts.rates(buckets, { min: threshold, limit: this.d.settings.perRound });
    let added = 0;
    if (hot.length > 0) {
      await this.d.counts.markHot(
        hot.map(([hash]) => hash),
        now,
      );
      const load = await this.d.counts.storeLoad(buckets);
      for (const [hash, rate] of hot) {
        if (this.stopped || !(await this.lease())) break;
        added += await this.scaleUp(hash, rate, load);
      }
    }
    let removed = 0;
    const cooled = await this.d.counts.hotUntil(now - this.d.settings.coolAfter);
    for (const hash of cooled) {
      if (this.stopped || !(await this.lease())) break;
      removed += await this.coolDown(hash);
    }
    return { added, removed };
  }

  private async scaleUp(hash: string, rate: number, load: Map<string, number>): Promise<number> {
    const { pool, copies, replicas, settings } = this.d;
    const { all, live } = await copies.holders(hash);
    const want = wantedCopies(rate, { threshold: settings.threshold, maxReplicas: settings.maxReplicas, replicas });
    if (live.length === 0 || live.length >= want) return 0;
    const held = all.flatMap((c) => {
      const p = pool.peer(c.store);
      return p ? [holderOf(p)] : [];
    });
    const candidates = pool.candidates().map((c) => ({ ...c, load: c.load + deliveryLoad(load, c.name) }));
    let added = 0;
    for (const target of pool.rank(candidates, want - live.length, held)) {
      if (added >= want - live.length) break;
      // Remembered before the copy exists, so a crash between the two cannot leave an extra copy untracked.
      await this.d.counts.addExtra(hash, target.name);
      const done = await copies.add(hash, 1, { onto: target.name });
      if (done.length > 0) {
        added++;
        hotAdded.inc();
      } else await this.d.counts.dropExtras(hash, [target.name]);
    }
    if (added > 0) this.d.log.info({ hash, rate, copies: live.length + added }, "hot: extra copies added");
    return added;
  }

  private async coolDown(hash: string): Promise<number> {
    const { copies, removal, replicas, counts } = this.d;
    const extras = await counts.extras(hash);
    const { all, live } = await copies.holders(hash);
    const liveNames = live.map((h) => h.peer.name);
    const n = coolingDrops(liveNames, extras, replicas);
    const base = new Set(liveNames.filter((s) => !extras.includes(s)));
    const r = n > 0 ? await removal.remove({ hash, keep: replicas, max: n, protect: base }) : undefined;
    // Extras found corrupt on the way were removed by their stores: gone all the same.
    const dropped = [
      ...(r?.removed ?? []),
      ...(r?.skipped.flatMap((s) => (s.reason === "corrupt" && s.store ? [s.store] : [])) ?? []),
    ];
    if (dropped.length > 0) {
      this.d.log.info(
        { hash, removed: dropped, copies: live.length - dropped.length },
        "hot: cooled, extra copies removed",
      );
    }
    // Extras whose copy is gone from the inventory need no more tracking.
    const known = new Set(all.map((c) => c.store));
    const gone = extras.filter((s) => !known.has(s) && !dropped.includes(s));
    const left = extras.filter((s) => !dropped.includes(s) && !gone.includes(s));
    // Done when no tracked extra is left, or the rest now carry the base count (a base copy was lost meanwhile).
    if (left.length === 0 || live.length - dropped.length <= replicas) {
      await counts.forget(hash);
    } else if (dropped.length + gone.length > 0) {
      await counts.dropExtras(hash, [...dropped, ...gone]);
    }
    const removed = r?.removed.length ?? 0;
    if (removed > 0) hotRemoved.inc(removed);
    return removed;
  }
}

/** Counting on the deliver path and the scaling job, as a prism runs them; nothing when hot.enabled is off. */
export function hotContent(d: Omit<HotScalerDeps, "now">): {
  counter?: HotCounter;
  start(): void;
  stop(): Promise<void>;
} {
  if (!d.settings.enabled) return { start() {}, async stop() {} };
  const counter = new HotCounter(d.counts, d.settings, d.log);
  const scaler = new HotScaler({ ...d, log: d.log.child({ job: "hot" }) });
  return {
    counter,
    start() {
      counter.start();
      scaler.start();
    },
    async stop() {
      await scaler.stop();
      await counter.stop();
    },
  };
}

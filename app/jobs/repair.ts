import { randomUUID } from "node:crypto";
import type { StorePool } from "../routing/pool.js";
import type { Config } from "../config.js";
import { TokenBucket } from "../core/bucket.js";
import type { InventoryDoc } from "../core/inventory.js";
import { eachLimit } from "../core/limit.js";
import { isLive, type Peer } from "../core/peer.js";
import type { Inventory } from "../core/ports/inventory.js";
import type { JobState } from "../core/ports/job-state.js";
import type { Lease, Leases } from "../core/ports/lease.js";
import type { PeerView } from "../core/ports/peers.js";
import type { Logger } from "../log.js";
import type { Copies } from "../routing/copies.js";
import type { Removal } from "./removal.js";

// Self-healing. A store that stays unavailable longer than heartbeat.repairAfter
// gets its content copied from the surviving holders onto other stores, until
// every file it held is back at its replica count. When the store returns, the
// copies that are now surplus are trimmed. One prism runs it at a time (a
// lease in Redis); runs are idempotent, so a run cut short is finished by the
// next, on any prism. Copies go `concurrency` at a time, within `bandwidth`.
//
// Keys (JobState and Leases): <prefix>:repair:lock (the lease), <prefix>:repair:stores (store →
// the outage it was repaired for; kept until its surplus is trimmed) and
// <prefix>:repair:status (the last progress report, JSON).

export interface RepairStatus {
  state: "repairing" | "trimming" | "done";
  runner: string;
  store: string;
  /** This store's copies looked at. */
  scanned: number;
  /** Files found short of their replica count. */
  short: number;
  /** Copies made, and their bytes. */
  copied: number;
  bytes: number;
  /** Files that could not be brought back to count this time (retried next run). */
  failed: number;
  /** Files with no live copy at all right now. */
  unreachable: number;
  /** Copies removed as surplus. */
  trimmed: number;
  startedAt: string;
  ms: number;
  bytesPerSec: number;
}

interface Outage {
  since: string;
  complete: boolean;
}

export interface RepairDeps {
  inventory: Pick<Inventory, "copyPages">;
  state: JobState;
  leases: Leases;
  peers: Pick<PeerView, "ready" | "healthy" | "stores" | "store">;
  pool: StorePool;
  copies: Copies;
  removal: Removal;
  config: Config;
  log: Logger;
  now?: () => number;
}

/** Where the last progress report of a repair is kept (JSON RepairStatus). */
export const repairStatusKey = (prefix: string) => `${prefix}:repair:status`;

export class Repair {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private readonly lease: Lease;
  private readonly bucket: TokenBucket;
  private readonly now: () => number;
  private readonly keys: { stores: string; status: string };

  constructor(private readonly d: RepairDeps) {
    const { prefix } = d.config.redis;
    this.now = d.now ?? Date.now;
    this.lease = d.leases.lease(`${prefix}:repair:lock`, `${d.config.name}:${randomUUID()}`, d.config.repair.lease);
    this.bucket = new TokenBucket(d.config.repair.bandwidth, d.config.repair.bandwidth, this.now);
    this.keys = { stores: `${prefix}:repair:stores`, status: repairStatusKey(prefix) };
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => {
      this.running ??= this.run()
        .catch((err) => this.d.log.warn({ err: (err as Error).message }, "repair run failed"))
        .finally(() => {
          this.running = undefined;
        });
    }, this.d.config.repair.interval);
    this.timer.unref();
  }

  /** Stops scheduling, lets the copies in flight finish, and frees the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Stores down longer than repairAfter (an operator's inactive ones are theirs to handle). */
  due(): Peer[] {
    const { repairAfter } = this.d.config.heartbeat;
    return this.d.peers.stores().filter((p) => {
      if (p.available || !p.active || !p.unavailableSince) return false;
      return this.now() - Date.parse(p.unavailableSince) >= repairAfter;
    });
  }

  /** One pass: repair every store that is due, then trim behind every repaired store that is back. */
  async run(): Promise<void> {
    if (!this.d.peers.ready || !this.d.peers.healthy) return;
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
      Math.max(100, Math.floor(this.d.config.repair.lease / 3)),
    );
    const keepGoing = () => !this.stopped && !lost;
    try {
      const outages = await this.outages();
      for (const store of this.due()) {
        if (!keepGoing()) break;
        const known = outages.get(store.name);
        if (known && known.since === store.unavailableSince && known.complete) continue;
        await this.repairStore(store, keepGoing);
      }
      for (const [name, outage] of outages) {
        if (!keepGoing()) break;
        const store = this.d.peers.store(name);
        if (!store) await this.d.state.deleteEntry(this.keys.stores, name);
        else if (isLive(store)) await this.trimStore(store, outage, keepGoing);
      }
    } finally {
      clearInterval(renew);
      await this.lease.release().catch(() => undefined);
    }
  }

  private outages(): Promise<Map<string, Outage>> {
    return this.d.state.entries<Outage>(this.keys.stores);
  }

  private async repairStore(store: Peer, keepGoing: () => boolean): Promise<void> {
    const since = store.unavailableSince!;
    const mark = (complete: boolean) =>
      this.d.state.setEntry(this.keys.stores, store.name, { since, complete } satisfies Outage);
    await mark(false);
    const status = this.newStatus("repairing", store.name);
    this.d.log.warn({ store: store.name, since }, "repair: store is down past repairAfter; restoring its copies");
    const { replicas } = this.d.config;
    await this.eachCopy(store.name, status, keepGoing, async (doc) => {
      const { live } = await this.d.copies.holders(doc.hash);
      const need = replicas - live.length;
      if (need <= 0) return;
      status.short++;
      if (live.length === 0) {
        status.unreachable++;
        return;
      }
      await this.throttle(doc.size * need);
      const made = await this.d.copies.add(doc.hash, need);
      status.copied += made.length;
      status.bytes += made.reduce((n, t) => n + t.bytes, 0);
      if (made.length < need) status.failed++;
    });
    const complete = keepGoing() && status.failed === 0 && status.unreachable === 0;
    status.state = complete ? "done" : status.state;
    await this.report(status, true);
    // Only a full pass counts; anything short is looked at again next run.
    if (complete) await mark(true);
  }

  private async trimStore(store: Peer, outage: Outage, keepGoing: () => boolean): Promise<void> {
    const status = this.newStatus("trimming", store.name);
    this.d.log.info({ store: store.name, since: outage.since }, "repair: store is back; trimming surplus copies");
    const { replicas } = this.d.config;
    await this.eachCopy(store.name, status, keepGoing, async (doc) => {
      const { live } = await this.d.copies.holders(doc.hash);
      if (live.length <= replicas) return;
      const want = live.length - replicas;
      const r = await this.d.removal.remove({ hash: doc.hash, keep: replicas, max: want });
      status.trimmed += r.removed.length;
      // Short of the surplus (locked, too few verified copies, an unknown outcome): looked at again next run.
      if (r.removed.length < want) status.failed++;
    });
    const complete = keepGoing() && status.failed === 0;
    if (complete) status.state = "done";
    await this.report(status, true);
    if (complete) await this.d.state.deleteEntry(this.keys.stores, store.name);
  }

  /** Runs `work` over the store's copies, `concurrency` at a time; pages start after the last id seen, so removals never shift them. */
  private async eachCopy(
    store: string,
    status: RepairStatus,
    keepGoing: () => boolean,
    work: (doc: InventoryDoc) => Promise<void>,
  ): Promise<void> {
    const { concurrency, pageSize } = this.d.config.repair;
    const note = (m: string) => this.d.log.info({ store }, `repair: ${m}`);
    for await (const page of this.d.inventory.copyPages("store", store, { pageSize, note })) {
      if (!keepGoing()) break;
      await eachLimit(page, concurrency, async (doc) => {
        if (!keepGoing()) return;
        status.scanned++;
        try {
          await work(doc);
        } catch (err) {
          status.failed++;
          this.d.log.warn({ hash: doc.hash, err: (err as Error).message }, "repair: copy failed");
        }
      });
      await this.report(status, false);
    }
  }

  private async throttle(bytes: number): Promise<void> {
    const wait = this.bucket.reserve(bytes);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  private newStatus(state: RepairStatus["state"], store: string): RepairStatus {
    return {
      state,
      runner: this.d.config.name,
      store,
      scanned: 0,
      short: 0,
      copied: 0,
      bytes: 0,
      failed: 0,
      unreachable: 0,
      trimmed: 0,
      startedAt: new Date(this.now()).toISOString(),
      ms: 0,
      bytesPerSec: 0,
    };
  }

  private async report(status: RepairStatus, final: boolean): Promise<void> {
    status.ms = Math.max(1, this.now() - Date.parse(status.startedAt));
    status.bytesPerSec = Math.round((status.bytes * 1000) / status.ms);
    const { state, runner, ...progress } = status;
    this.d.log.info({ state, ...progress }, `repair: ${final ? "pass finished" : "progress"}`);
    await this.d.state.write(this.keys.status, status).catch(() => undefined);
  }
}

import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { type Couch, isConflict, isNotFound } from "./index.js";
import { meta } from "./meta.js";

// The migration runner lock: one doc (`lock:migrate`) in the meta database,
// created with a conflict-checked insert and holding a lease its holder renews
// every leaseMs/3. A killed runner stops renewing; once its lease has run out
// the next runner may take the lock over. Leases compare wall clocks, so the
// hosts that run migrations need roughly synchronised clocks.

export const LOCK_ID = "lock:migrate";

export interface LockHolder {
  owner: string;
  pid: number;
  host: string;
  command: string;
  startedAt: string;
  renewedAt: string;
  expiresAt: number;
}

type LockDoc = LockHolder & { _id: string; _rev: string; type: "lock" };

export class LockHeld extends Error {
  constructor(readonly holder: LockHolder) {
    super(
      `another migration runner holds the lock: pid ${holder.pid} on ${holder.host} (${holder.command}), ` +
        `started ${holder.startedAt}, lease until ${new Date(holder.expiresAt).toISOString()}`,
    );
  }
}

export async function readLock(couch: Couch): Promise<LockHolder | undefined> {
  try {
    return (await meta(couch).get(LOCK_ID)) as unknown as LockDoc;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * `signal` aborts when the lock is lost for certain (another runner holds it,
 * or it was deleted). A failed renewal (a reset connection, a slow CouchDB) is
 * retried; `hold()`, called between batches, renews in line once the lease
 * gets short, so no batch starts on a lease that may have run out.
 */
export class MigrationLock {
  private rev?: string;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<"ok" | "lost" | "retry">;
  private readonly abort = new AbortController();
  private holder: LockHolder;
  /** The holder whose expired lease this runner took over, if any. */
  tookOver?: LockHolder;

  private constructor(
    private readonly couch: Couch,
    private readonly leaseMs: number,
    command: string,
  ) {
    const now = new Date();
    this.holder = {
      owner: `${os.hostname()}:${process.pid}:${now.getTime()}:${Math.random().toString(36).slice(2)}`,
      pid: process.pid,
      host: os.hostname(),
      command,
      startedAt: now.toISOString(),
      renewedAt: now.toISOString(),
      expiresAt: now.getTime() + leaseMs,
    };
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Takes the lock or throws LockHeld; a holder whose lease ran out is replaced. */
  static async acquire(couch: Couch, o: { leaseMs: number; command: string }): Promise<MigrationLock> {
    const lock = new MigrationLock(couch, o.leaseMs, o.command);
    await lock.take();
    lock.timer = setInterval(() => void lock.renew(), Math.max(50, Math.floor(o.leaseMs / 3)));
    lock.timer.unref();
    return lock;
  }

  private async take(): Promise<void> {
    const db = meta(this.couch);
    const doc = { _id: LOCK_ID, type: "lock", ...this.holder };
    try {
      this.rev = (await db.insert(doc)).rev;
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const cur = (await db.get(LOCK_ID)) as unknown as LockDoc;
    if (cur.expiresAt > Date.now()) throw new LockHeld(cur);
    try {
      this.rev = (await db.insert({ ...doc, _rev: cur._rev, tookOverFrom: { pid: cur.pid, host: cur.host } })).rev;
      this.tookOver = cur;
    } catch (err) {
      if (!isConflict(err)) throw err;
      throw new LockHeld((await readLock(this.couch)) ?? cur);
    }
  }

  /** One renewal; concurrent callers share it. */
  private renew(): Promise<"ok" | "lost" | "retry"> {
    if (this.abort.signal.aborted) return Promise.resolve("lost");
    this.inFlight ??= this.renewOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async renewOnce(): Promise<"ok" | "lost" | "retry"> {
    const db = meta(this.couch);
    const now = Date.now();
    const next = { ...this.holder, renewedAt: new Date(now).toISOString(), expiresAt: now + this.leaseMs };
    try {
      this.rev = (await db.insert({ _id: LOCK_ID, _rev: this.rev, type: "lock", ...next })).rev;
      this.holder = next;
      return "ok";
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err)) return "retry";
    }
    // A conflict: either our own last write landed but its answer was lost, or someone else holds the lock.
    try {
      const cur = (await db.get(LOCK_ID)) as unknown as LockDoc;
      if (cur.owner === this.holder.owner) {
        this.rev = cur._rev;
        this.holder = { ...this.holder, expiresAt: cur.expiresAt, renewedAt: cur.renewedAt };
        return "retry";
      }
      this.lose(new Error(`migration lock lost: now held by pid ${cur.pid} on ${cur.host}; stopping`));
    } catch (err) {
      if (!isNotFound(err)) return "retry";
      this.lose(new Error("migration lock lost: the lock doc was deleted; stopping"));
    }
    return "lost";
  }

  /**
   * Between batches: returns at once while the lease has a third left; otherwise
   * renews now (retrying for up to `maxWaitMs`), and throws if the lock is lost.
   */
  async hold(maxWaitMs = Math.max(3 * this.leaseMs, 30_000)): Promise<void> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      this.abort.signal.throwIfAborted();
      if (Date.now() < this.holder.expiresAt - this.leaseMs / 3) return;
      const outcome = await this.renew();
      if (outcome === "ok") return;
      this.abort.signal.throwIfAborted();
      if (Date.now() - started > maxWaitMs) {
        throw new Error(`could not renew the migration lock for ${Math.round(maxWaitMs / 1000)} s; stopping`);
      }
      await sleep(Math.min(100 * attempt, 1000));
    }
  }

  private lose(err: Error): void {
    clearInterval(this.timer);
    this.abort.abort(err);
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight?.catch(() => undefined);
    if (this.abort.signal.aborted || !this.rev) return;
    this.abort.abort(new Error("lock released"));
    try {
      await meta(this.couch).destroy(LOCK_ID, this.rev);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}

import { setTimeout as sleep } from "node:timers/promises";
import type { HashLocks, HeldLock } from "../core/hash-locks.js";
import { holderOf, type StorePool } from "../routing/pool.js";
import { DEFAULT_WEIGHTS, rankStores } from "../core/placement.js";
import { AppError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Copies, LiveHolder } from "../routing/copies.js";

// The one way jobs and tools remove copies of a file. Under the hash's
// cluster-wide lock, each removal is preceded by a fresh count: the inventory
// is read again and every other live holder re-hashes its copy; only copies
// whose store answers "ok" count. A copy goes only if the count shows `keep`
// verified copies will remain. Whatever a removal's outcome (done, timed out,
// corrupt, not found), the next step starts from a new count, and a copy this
// run tried to remove never counts as a survivor: its store may still be
// removing it. Removals take the copies whose failure domains are most crowded.
// The takedown (below) is the one exception to `keep`.

/** A forced verify hashes the whole file; big files need long. */
const VERIFY_TIMEOUT_MS = 600_000;

export interface RemovalRequest {
  hash: string;
  /** Verified copies that must remain after every removal (at least 1: never the last good copy). */
  keep: number;
  /** Most copies to remove (default: as many as `keep` allows). */
  max?: number;
  /** Stores whose copies are never removed. */
  protect?: Set<string>;
  /** Only this store's copy may go. */
  only?: string;
}

export type SkipReason =
  /** Another remover holds the hash; try again later. */
  | "locked"
  /** The lock's lease may have run out; stopped before touching another copy. */
  | "lock-lost"
  /** Removing would leave fewer than `keep` verified copies. */
  | "too-few-verified"
  /** The store found its copy corrupt and removed it itself (VERIFY_FAILED). */
  | "corrupt"
  /** The store holds no such copy: a stale inventory doc. */
  | "not-found"
  /** A timeout or another failure: the copy may or may not be gone. */
  | "unknown";

export interface Skip {
  store?: string;
  reason: SkipReason;
  detail?: string;
}

export interface RemovalResult {
  hash: string;
  /** Stores whose copy this run removed. */
  removed: string[];
  skipped: Skip[];
}

export interface TakedownResult {
  hash: string;
  /** Stores whose copy this run removed (or found corrupt, and so gone). */
  removed: string[];
  /** Stores whose copy is still recorded: down, or the outcome unknown. Run the takedown again. */
  pending: string[];
}

/** How long a takedown waits for a job (a copy in flight, a removal) to let go of the hash's lock. */
export const TAKEDOWN_LOCK_WAIT_MS = 10_000;

export interface RemovalDeps {
  copies: Copies;
  pool: StorePool;
  locks: HashLocks;
  log: Logger;
}

export class Removal {
  constructor(private readonly d: RemovalDeps) {}

  async remove(req: RemovalRequest): Promise<RemovalResult> {
    const result: RemovalResult = { hash: req.hash, removed: [], skipped: [] };
    const held = await this.d.locks.with(req.hash, (lock) => this.underLock(req, lock, result));
    if (!held) result.skipped.push({ reason: "locked" });
    for (const s of result.skipped) this.d.log.info({ hash: req.hash, ...s }, "removal: skipped");
    return result;
  }

  private async underLock(req: RemovalRequest, lock: HeldLock, result: RemovalResult): Promise<void> {
    const max = req.max ?? Number.POSITIVE_INFINITY;
    const keep = Math.max(1, req.keep);
    const tried = new Set<string>();
    while (result.removed.length < max) {
      if (!lock.held()) {
        result.skipped.push({ reason: "lock-lost" });
        return;
      }
      const { live } = await this.d.copies.holders(req.hash);
      const target = removalOrder(live).find(
        (h) => !tried.has(h.peer.name) && !req.protect?.has(h.peer.name) && (!req.only || h.peer.name === req.only),
      );
      if (!target) return;
      const others = live.filter((h) => h !== target && !tried.has(h.peer.name));
      const verified = await this.verified(req.hash, others);
      if (verified < keep) {
        result.skipped.push({
          store: target.peer.name,
          reason: "too-few-verified",
          detail: `${verified} verified cop${verified === 1 ? "y" : "ies"} elsewhere, ${keep} to keep`,
        });
        return;
      }
      if (!lock.held()) {
        result.skipped.push({ reason: "lock-lost" });
        return;
      }
      tried.add(target.peer.name);
      const skip = await removeCopy(this.d.pool, req.hash, target);
      if (!skip) {
        result.removed.push(target.peer.name);
        this.d.log.info({ hash: req.hash, store: target.peer.name, verified }, "removal: copy removed");
        continue;
      }
      result.skipped.push(skip);
      if (skip.reason === "unknown") lock.linger();
    }
  }

  /** How many of `holders` answer a forced verify with "ok". */
  private async verified(hash: string, holders: LiveHolder[]): Promise<number> {
    const ok = await Promise.all(
      holders.map(async ({ copy, peer }) => {
        try {
          const res = await this.d.pool.client(peer).verify(`${hash}.${copy.mimeExtension}`, true, VERIFY_TIMEOUT_MS);
          return res.status === "ok";
        } catch (err) {
          this.d.log.info({ hash, store: peer.name, err: (err as Error).message }, "removal: copy not verified");
          return false;
        }
      }),
    );
    return ok.filter(Boolean).length;
  }
}

/** Undefined when the copy was removed; otherwise why not, as far as is known. */
async function removeCopy(pool: StorePool, hash: string, h: LiveHolder): Promise<Skip | undefined> {
  const store = h.peer.name;
  try {
    await pool.client(h.peer).remove(hash);
    return undefined;
  } catch (err) {
    const detail = (err as Error).message;
    if (err instanceof AppError && err.code === "VERIFY_FAILED") return { store, reason: "corrupt", detail };
    if (err instanceof AppError && err.status === 404) return { store, reason: "not-found", detail };
    return { store, reason: "unknown", detail };
  }
}

/**
 * The takedown mode: the one exception to `keep`, in a class of its own that
 * only the content delete route is given, used for an authorised actor once
 * the hash's takedown mark is durable (so no job copies it back). Every copy goes.
 */
export class Takedown {
  constructor(private readonly d: RemovalDeps) {}

  /** Removes every copy of `hash`; undefined when the hash's lock stayed taken for `waitMs`. */
  async run(hash: string, waitMs = TAKEDOWN_LOCK_WAIT_MS): Promise<TakedownResult | undefined> {
    const until = Date.now() + waitMs;
    for (;;) {
      const held = await this.d.locks.with(hash, (lock) => this.takeAll(hash, lock));
      if (held) return held.value;
      if (Date.now() >= until) return undefined;
      await sleep(200);
    }
  }

  private async takeAll(hash: string, lock: HeldLock): Promise<TakedownResult> {
    const result: TakedownResult = { hash, removed: [], pending: [] };
    const tried = new Set<string>();
    // Read again after each pass: a copy a job was making as the takedown began shows up afterwards.
    for (;;) {
      const { all } = await this.d.copies.holders(hash);
      const targets = all.filter((c) => !tried.has(c.store));
      if (targets.length === 0 || !lock.held()) {
        result.pending = all.map((c) => c.store).filter((s) => !result.removed.includes(s));
        this.d.log.info({ hash, removed: result.removed, pending: result.pending }, "takedown: done");
        return result;
      }
      for (const copy of targets) {
        tried.add(copy.store);
        const peer = this.d.pool.peer(copy.store);
        if (!peer || !lock.held()) continue;
        const skip = await removeCopy(this.d.pool, hash, { copy, peer });
        // A store that holds no such copy drops the stale doc itself (and so leaves the next read).
        if (!skip || skip.reason === "corrupt") result.removed.push(copy.store);
        if (skip?.reason === "unknown") lock.linger();
      }
    }
  }
}

/** The copy to remove first is the one placement would have placed last (its domains are the most crowded). */
export function removalOrder(live: LiveHolder[]): LiveHolder[] {
  const keepOrder = rankStores(
    live.map((h) => ({ ...holderOf(h.peer), free: h.peer.capacity?.free, load: 0 })),
    live.length,
    [],
    DEFAULT_WEIGHTS,
    () => 0.5,
  ).map((c) => c.name);
  return [...live].sort((a, b) => keepOrder.indexOf(b.peer.name) - keepOrder.indexOf(a.peer.name));
}

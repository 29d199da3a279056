import { holderOf, type StorePool } from "./pool.js";
import type { InventoryDoc } from "../core/inventory.js";
import { copyId, type LiveHolder, liveHolders } from "../core/peer.js";
import type { Holder } from "../core/placement.js";
import type { CopyGate } from "../core/copy-gate.js";
import type { Inventory } from "../core/ports/inventory.js";
import { AppError, PeerUnavailable } from "../errors.js";

// Finding and adding copies of one file, shared by the repair job, clonetool,
// hot-content scaling and uploads. New copies go where placement would put
// them (failure domains, then space and load). Removing goes through Removal
// (removal.ts). Stores announce every change, so caches follow. The jobs' Copies
// has a gate (core/copy-gate.ts), so a hash taken down is never copied back;
// uploads' has none: an upload of taken-down bytes is new content.

export interface Transfer {
  from: string;
  to: string;
  bytes: number;
  ms: number;
}

export type { LiveHolder };

/** A file's copies: all recorded, and those on live stores. */
export interface Holders {
  all: InventoryDoc[];
  live: LiveHolder[];
}

export interface AddOptions {
  onto?: string;
  exclude?: Set<string>;
  known?: Holders;
}

export class Copies {
  constructor(
    private readonly inventory: Pick<Inventory, "copiesOf">,
    private readonly pool: StorePool,
    private readonly transferTimeoutMs = 600_000,
    private readonly gate?: CopyGate,
  ) {}

  /** Every inventory copy of `hash`, and which of them sit on live stores. */
  async holders(hash: string): Promise<Holders> {
    const all = await this.inventory.copiesOf(hash);
    return { all, live: liveHolders(all, (name) => this.pool.peer(name)) };
  }

  /**
   * Copies `hash` onto `count` more stores; resolves with the transfers that succeeded.
   * `known`: holders the caller has just read, so they are not read again.
   */
  add(hash: string, count: number, opts: AddOptions = {}): Promise<Transfer[]> {
    return this.gate ? this.gate.permit(hash, () => this.copy(hash, count, opts)) : this.copy(hash, count, opts);
  }

  private async copy(hash: string, count: number, opts: AddOptions): Promise<Transfer[]> {
    const { all, live } = opts.known ?? (await this.holders(hash));
    if (live.length === 0 || count <= 0) return [];
    const held: Holder[] = all.flatMap((c) => {
      const p = this.pool.peer(c.store);
      return p ? [holderOf(p)] : [];
    });
    // Stores this prism suspects come last, as fallbacks.
    const suspect = (name: string) => this.pool.health.isSuspect(name);
    const pool = this.pool.candidates(true).filter((c) => !opts.exclude?.has(c.name));
    const targets = opts.onto
      ? pool.filter((c) => c.name === opts.onto)
      : [
          ...this.pool.rank(
            pool.filter((c) => !suspect(c.name)),
            count,
            held,
          ),
          ...this.pool.rank(
            pool.filter((c) => suspect(c.name)),
            count,
            held,
          ),
        ];
    const rank = (name: string) => (this.pool.health.isSuspect(name) ? 1e9 : 0) + this.pool.load(name);
    const done: Transfer[] = [];
    for (const target of targets) {
      if (done.length >= count) break;
      const peer = this.pool.peer(target.name)!;
      // Sources in order of preference; one that cannot be reached or holds a bad copy gives way to the next.
      for (const source of [...live].sort((a, b) => rank(a.peer.name) - rank(b.peer.name))) {
        const release = [this.pool.begin(source.peer.name), this.pool.begin(peer.name)];
        const started = performance.now();
        try {
          await this.pool
            .client(source.peer)
            .send(`${hash}.${source.copy.mimeExtension}`, copyId(peer), this.transferTimeoutMs);
          done.push({
            from: source.peer.name,
            to: peer.name,
            bytes: source.copy.size,
            ms: performance.now() - started,
          });
          break;
        } catch (err) {
          if (!(err instanceof AppError) || err instanceof PeerUnavailable) {
            this.pool.health.failed(source.peer.name);
            continue;
          }
          if (err.code === "VERIFY_FAILED" || err.code === "CONTENT_NOT_FOUND") continue;
          // The target failed (the source could not reach it, or it refused the bytes): try the next target.
          if (err.code === "PEER_UNAVAILABLE") this.pool.health.failed(peer.name);
          break;
        } finally {
          for (const r of release) r();
        }
      }
    }
    return done;
  }
}

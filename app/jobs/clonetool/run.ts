import type { StorePool } from "../../routing/pool.js";
import type { InventoryDoc } from "../../core/inventory.js";
import { AppError } from "../../errors.js";
import type { Copies, Transfer } from "../../routing/copies.js";
import { eachLimit } from "../../core/limit.js";
import type { Removal, RemovalResult, SkipReason } from "../removal.js";
import { type Action, describe, type Manual, plan, type Selector } from "./plan.js";

// clonetool's engine: analyse a block of hashes (their live copies, in
// parallel), decide with plan(), and unless pretending, act on the block
// before reading the next, so no list of the whole inventory is ever held.
// Copies are added through Copies: new copies go where placement would put
// them (failure domains, then free space and load). They are removed through
// Removal, under the hash's lock and only while enough verified copies remain:
// the desired count when trimming, `dropKeep` for a --drop by hand. Removals
// spare protected stores and take crowded domains first. The stores announce
// every copy they add or remove, so prisms drop the hash from their existence caches at once.

export interface ClonetoolOptions {
  selector: Selector;
  manual: Manual;
  pretend: boolean;
  force: boolean;
  whitelist: Set<string>;
  protectedStores: Set<string>;
  /** Verified copies a --drop leaves elsewhere, at least. */
  dropKeep: number;
  /** Files acted on at once. */
  concurrency: number;
  /** Hashes analysed at once. */
  analyseConcurrency?: number;
}

export interface ClonetoolDeps {
  copies: Copies;
  /** Undefined without Redis (no lock): then nothing is removed. */
  removal?: Removal;
  pool: StorePool;
  /** One line per decision and per outcome (verbose) or per transfer. */
  say?: (line: string) => void;
  verbose?: boolean;
}

export interface ClonetoolSummary {
  files: number;
  invalid: number;
  whitelisted: number;
  missing: number;
  unavailable: number;
  unchanged: number;
  needCopies: number;
  copiesWanted: number;
  needFewer: number;
  removalsWanted: number;
  toVerify: number;
  manual: number;
  /** Hashes that could not be analysed (CouchDB unreachable). */
  errors: number;
}

export interface ClonetoolResults {
  copied: number;
  copyFailed: number;
  removed: number;
  removeFailed: number;
  /** Why copies were not removed, by reason (a corrupt copy is gone, removed by its store). */
  skipped: Partial<Record<SkipReason, number>>;
  verified: { ok: number; fail: number; missing: number; error: number };
  /** Every transfer made: bytes, time, and MiB/s of each. */
  transfers: Transfer[];
  bytes: number;
  /** Wall time spent acting (transfers overlap when concurrency > 1). */
  actMs: number;
  failures: string[];
}

export const emptySummary = (): ClonetoolSummary => ({
  files: 0,
  invalid: 0,
  whitelisted: 0,
  missing: 0,
  unavailable: 0,
  unchanged: 0,
  needCopies: 0,
  copiesWanted: 0,
  needFewer: 0,
  removalsWanted: 0,
  toVerify: 0,
  manual: 0,
  errors: 0,
});

const emptyResults = (): ClonetoolResults => ({
  copied: 0,
  copyFailed: 0,
  removed: 0,
  removeFailed: 0,
  skipped: {},
  verified: { ok: 0, fail: 0, missing: 0, error: 0 },
  transfers: [],
  bytes: 0,
  actMs: 0,
  failures: [],
});

export const mibPerSecond = (bytes: number, ms: number) => (ms > 0 ? bytes / 1024 ** 2 / (ms / 1000) : 0);

interface Decision {
  hash: string;
  action: Action;
  copies: InventoryDoc[];
}

export class Clonetool {
  readonly summary = emptySummary();
  readonly results = emptyResults();

  constructor(
    private readonly d: ClonetoolDeps,
    private readonly o: ClonetoolOptions,
  ) {}

  /** Analyses (and unless pretending, acts on) each batch in turn. */
  async run(batches: AsyncIterable<string[]>, progress?: (files: number) => void): Promise<void> {
    for await (const hashes of batches) {
      const decisions = await this.analyse(hashes);
      if (!this.o.pretend) {
        const started = performance.now();
        await eachLimit(decisions, this.o.concurrency, (x) => this.act(x));
        this.results.actMs += performance.now() - started;
      }
      progress?.(this.summary.files);
    }
  }

  private async analyse(hashes: string[]): Promise<Decision[]> {
    const out: Decision[] = [];
    await eachLimit(hashes, this.o.analyseConcurrency ?? 16, async (hash) => {
      this.summary.files++;
      if (this.o.whitelist.has(hash) && !this.o.force) {
        this.summary.whitelisted++;
        if (this.d.verbose) this.d.say?.(`${hash}: whitelisted, left alone (--force overrides)`);
        return;
      }
      let holders: Awaited<ReturnType<Copies["holders"]>>;
      try {
        holders = await this.d.copies.holders(hash);
      } catch (err) {
        this.summary.errors++;
        this.fail(`${hash}: ${(err as Error).message}`);
        return;
      }
      const { all, live } = holders;
      const action = plan(
        live.map((h) => h.peer.name),
        all.length > 0,
        this.o.selector,
        this.o.manual,
      );
      this.count(action);
      if (this.d.verbose) this.d.say?.(`${hash}: ${live.length} live of ${all.length} → ${describe(action)}`);
      if (action.kind !== "none") out.push({ hash, action, copies: all });
    });
    return out;
  }

  private count(a: Action): void {
    const s = this.summary;
    switch (a.kind) {
      case "copy":
        s.needCopies++;
        s.copiesWanted += a.count;
        return;
      case "unlink":
        s.needFewer++;
        s.removalsWanted += a.count;
        return;
      case "verify":
        s.toVerify++;
        return;
      case "clone":
      case "drop":
        s.manual++;
        return;
      case "none":
        if (a.reason === "missing") s.missing++;
        else if (a.reason === "unavailable") s.unavailable++;
        else s.unchanged++;
    }
  }

  private fail(line: string): void {
    if (this.results.failures.length < 1000) this.results.failures.push(line);
    this.d.say?.(`FAILED ${line}`);
  }

  private transferred(hash: string, transfers: Transfer[]): void {
    for (const t of transfers) {
      this.results.transfers.push(t);
      this.results.bytes += t.bytes;
      const rate = mibPerSecond(t.bytes, t.ms).toFixed(1);
      this.d.say?.(`${hash}: ${t.from} → ${t.to} ${t.bytes} bytes in ${Math.round(t.ms)} ms (${rate} MiB/s)`);
    }
  }

  private async act({ hash, action }: Decision): Promise<void> {
    const r = this.results;
    const { copies } = this.d;
    try {
      switch (action.kind) {
        case "copy":
        case "clone": {
          const want = action.kind === "copy" ? action.count : 1;
          const done = await copies.add(hash, want, action.kind === "clone" ? { onto: action.store } : {});
          this.transferred(hash, done);
          r.copied += done.length;
          r.copyFailed += want - done.length;
          if (done.length < want) {
            const where = action.kind === "clone" ? ` onto ${action.store} (live and writable?)` : "";
            this.fail(`${hash}: ${done.length} of ${want} copies made${where}`);
          }
          break;
        }
        case "unlink":
        case "drop": {
          const want = action.kind === "unlink" ? action.count : 1;
          if (!this.d.removal) {
            r.removeFailed += want;
            this.fail(`${hash}: not removed: removing copies needs Redis for the per-hash lock (--redis or --sentinels)`);
            break;
          }
          const result =
            action.kind === "unlink"
              ? await this.d.removal.remove({
                  hash,
                  keep: this.o.selector.desired,
                  max: want,
                  protect: this.o.protectedStores,
                })
              : await this.d.removal.remove({ hash, keep: this.o.dropKeep, max: 1, only: action.store });
          this.removed(result, want);
          break;
        }
        case "verify":
          await this.verify(hash);
          break;
        case "none":
          return;
      }
    } catch (err) {
      this.fail(`${hash}: ${(err as Error).message}`);
    }
  }

  private removed(result: RemovalResult, want: number): void {
    const r = this.results;
    const { hash, removed, skipped } = result;
    r.removed += removed.length;
    r.removeFailed += want - removed.length;
    for (const s of skipped) r.skipped[s.reason] = (r.skipped[s.reason] ?? 0) + 1;
    if (removed.length > 0) this.d.say?.(`${hash}: removed from ${removed.join(", ")}`);
    if (removed.length < want) {
      const why = skipped.map((s) => `${s.reason}${s.store ? ` on ${s.store}` : ""}${s.detail ? ` (${s.detail})` : ""}`);
      this.fail(`${hash}: ${removed.length} of ${want} copies removed${why.length ? `: ${why.join("; ")}` : ""}`);
    }
  }

  /** Every live holder re-hashes its copy (forced: the operator asked); a corrupt copy is deleted by its store. */
  private async verify(hash: string): Promise<void> {
    const { live } = await this.d.copies.holders(hash);
    const v = this.results.verified;
    await Promise.all(
      live.map(async ({ copy, peer }) => {
        try {
          const res = await this.d.pool.client(peer).verify(`${hash}.${copy.mimeExtension}`, true, 600_000);
          if (res.status === "ok") v.ok++;
          else {
            v.fail++;
            this.fail(`${hash}: corrupt on ${peer.name} (read as ${res.actualHash}); the copy was removed`);
          }
        } catch (err) {
          if (err instanceof AppError && err.status === 404) {
            v.missing++;
            this.fail(`${hash}: gone from ${peer.name}; its inventory doc was removed`);
          } else {
            v.error++;
            this.fail(`${hash}: verify on ${peer.name}: ${(err as Error).message}`);
          }
        }
      }),
    );
  }
}

import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type HashType, HashingStream } from "../core/hash.js";
import { type Candidate, rankStores } from "../core/placement.js";
import type { Peer } from "../core/peer.js";
import { AppError, NoPlacement, PeerUnavailable } from "../errors.js";
import type { Logger } from "../log.js";
import type { Existence } from "./existence.js";
import { type Branch, fanOut } from "./fanout.js";
import type { StorePool } from "../client/pool.js";
import type { Copies } from "../jobs/copies.js";
import type { StageReply } from "../store/schemas.js";

// The write path. Bytes stream from the client straight to `replicas` stores
// while the prism hashes them (no prism temp file). Once the hash is known the
// staged copies are committed, or dropped when the content already has its
// copies. A store lost on the way is replaced by a store-to-store send. The
// client hears success only when every copy is committed; otherwise the
// copies this request made are removed and it gets 503 NoPlacement.

/** How long a failed or duplicate upload waits for its staged copies to be dropped before answering. */
const ABORT_WAIT_MS = 2000;

export interface Placed {
  hash: string;
  hashType: HashType;
  ext: string;
  size: number;
  /** Every live copy after this upload, as `<prism>:<store>`. */
  copies: string[];
  /** Copies this upload added (0 for a duplicate). */
  added: number;
  /** Stores that got a copy from this upload, for undoing it. */
  addedTo: string[];
}

interface Stage extends Branch {
  peer: Peer;
  result: Promise<StageReply>;
  release(): void;
}

export class Placer {
  constructor(
    private readonly pool: StorePool,
    private readonly copies: Copies,
    private readonly existence: Existence,
    private readonly replicas: number,
    private readonly log: Logger,
    /** A store that takes no bytes for this long during an upload is dropped from it (0: never). */
    private readonly stallMs = 0,
  ) {}

  async place(source: Readable, ext: string, hashType: HashType): Promise<Placed> {
    let ranked = rankStores(this.pool.candidates(), this.replicas);
    // Suspicion is this prism's guess; with too few stores above it, the suspects get their chance.
    if (ranked.length < this.replicas) ranked = rankStores(this.pool.candidates(true), this.replicas);
    if (ranked.length < this.replicas) {
      source.resume();
      throw new NoPlacement(`Need ${this.replicas} live stores, ${ranked.length} available`);
    }
    const id = randomUUID();
    const started = performance.now();
    const stages = ranked.slice(0, this.replicas).map((c) => this.openStage(c, id, hashType));
    const hasher = new HashingStream(hashType);
    try {
      await pipeline(
        source,
        hasher,
        fanOut(stages, () => new NoPlacement("Every store failed during the upload"), this.stallMs),
      );
    } catch (err) {
      await this.dropStages(stages, id);
      throw err;
    }
    const hash = hasher.digest();
    const streamed = performance.now();
    // Which stores already hold the content, read while the stores finish their stages.
    this.existence.invalidate(hash);
    const holders = this.existence.liveCopies(hash).then((copies) => copies.map((c) => c.peer));
    holders.catch(() => undefined);
    const staged = await this.settle(stages, hash, hasher.bytes);
    const settled = performance.now();
    const placed = await this.commit(id, hash, ext, hashType, hasher.bytes, holders, staged, stages);
    const ms = (t: number) => Math.round(t - started);
    this.log.debug({ hash, size: hasher.bytes, streamMs: ms(streamed), settleMs: ms(settled), totalMs: ms(performance.now()) }, "placed");
    return placed;
  }

  /** A transport failure (not an answer) makes the store suspect, so the next choices route around it. */
  private noteFailure(peer: Peer, err: unknown): void {
    if (!(err instanceof AppError) || err instanceof PeerUnavailable) this.pool.health.failed(peer.name);
  }

  private openStage(c: Candidate, id: string, hashType: HashType): Stage {
    const peer = this.pool.peer(c.name)!;
    const sink = new PassThrough({ highWaterMark: 256 * 1024 });
    const result = this.pool.client(peer).stage(id, sink, hashType);
    const stage: Stage = { peer, sink, result, failed: false, release: this.pool.begin(c.name) };
    result.then(
      () => undefined,
      (err) => {
        stage.failed = true;
        sink.destroy();
        this.noteFailure(peer, err);
        this.log.warn({ store: peer.name, err: err.message }, "upload: store dropped out");
      },
    );
    return stage;
  }

  /** A stage's answer, unless its store drops out first (a failed ping or request marks it suspect). */
  private answer(s: Stage): Promise<StageReply> {
    if (s.failed) return Promise.reject(new PeerUnavailable(`${s.peer.name} dropped out of the upload`));
    return new Promise((resolve, reject) => {
      const watch = setInterval(() => {
        if (!this.pool.health.isSuspect(s.peer.name)) return;
        clearInterval(watch);
        reject(new PeerUnavailable(`${s.peer.name} stopped answering`));
      }, 100);
      s.result.then(
        (reply) => {
          clearInterval(watch);
          resolve(reply);
        },
        (err) => {
          clearInterval(watch);
          reject(err);
        },
      );
    });
  }

  private async settle(stages: Stage[], hash: string, size: number): Promise<Stage[]> {
    const outcomes = await Promise.allSettled(stages.map((s) => this.answer(s)));
    for (const s of stages) s.release();
    return stages.filter((s, i) => {
      const o = outcomes[i]!;
      if (o.status === "fulfilled" && o.value.hash === hash && o.value.size === size) return true;
      const got = o.status === "fulfilled" ? `${o.value.hash}/${o.value.size}` : (o.reason as Error).message;
      this.log.warn({ store: s.peer.name, expected: `${hash}/${size}`, got }, "upload: store staged something else");
      s.failed = true;
      return false;
    });
  }

  private async commit(
    id: string,
    hash: string,
    ext: string,
    hashType: HashType,
    size: number,
    held: Promise<Peer[]>,
    staged: Stage[],
    all: Stage[],
  ): Promise<Placed> {
    const file = `${hash}.${ext}`;
    let holders: Peer[];
    try {
      holders = await held;
    } catch (err) {
      // CouchDB is out: nothing is committed, and nothing staged may stay behind.
      await this.dropStages(all, id);
      throw err;
    }
    const needed = Math.max(0, this.replicas - holders.length);
    const fresh = staged.filter((s) => !holders.some((h) => h.name === s.peer.name));
    const chosen = fresh.slice(0, needed);
    const committed: Peer[] = [];
    await Promise.all(
      chosen.map(async (s) => {
        try {
          await this.pool.client(s.peer).commit(id, file);
          committed.push(s.peer);
        } catch (err) {
          this.noteFailure(s.peer, err);
          this.log.warn({ store: s.peer.name, err: (err as Error).message }, "upload: commit failed");
        }
      }),
    );
    await this.dropStages(
      all.filter((s) => !committed.includes(s.peer)),
      id,
    );
    // Everything landed as planned: the copies are known without asking CouchDB again.
    if (committed.length === needed) {
      const copies = [...holders, ...committed].map((p) => `${p.prism}:${p.name}`);
      return { hash, hashType, ext, size, copies, added: committed.length, addedTo: committed.map((p) => p.name) };
    }
    const sent: Peer[] = [];
    try {
      // A store lost on the way is replaced by a store-to-store copy from one that landed.
      if (committed.length < needed && committed.length + holders.length > 0) {
        const transfers = await this.copies.add(hash, needed - committed.length);
        sent.push(...transfers.flatMap((t) => this.pool.peer(t.to) ?? []));
      }
      this.existence.invalidate(hash);
      const after = await this.existence.liveCopies(hash);
      const made = after.map((c) => c.peer).filter((p) => !holders.some((h) => h.name === p.name));
      if (after.length < this.replicas) {
        await this.rollback(hash, [...new Map([...made, ...committed, ...sent].map((p) => [p.name, p])).values()]);
        throw new NoPlacement(`Only ${after.length} of ${this.replicas} copies could be written`);
      }
      const copies = after.map((c) => `${c.copy.prism}:${c.copy.store}`);
      return { hash, hashType, ext, size, copies, added: made.length, addedTo: made.map((p) => p.name) };
    } catch (err) {
      // All or nothing: whatever this upload wrote goes when it cannot finish (a backend outage included).
      if (!(err instanceof NoPlacement)) await this.rollback(hash, [...committed, ...sent]);
      throw err;
    }
  }

  /** Removes the copies an upload made, when the request around it fails after the fact. */
  async undo(placed: Placed): Promise<void> {
    const peers = placed.addedTo.flatMap((name) => this.pool.peer(name) ?? []);
    await this.rollback(placed.hash, peers);
  }

  private async rollback(hash: string, made: Peer[]): Promise<void> {
    await Promise.all(
      made.map((p) =>
        this.pool.client(p).remove(hash).catch((err) => {
          this.log.error({ store: p.name, hash, err: (err as Error).message }, "upload: rollback failed");
        }),
      ),
    );
    this.existence.invalidate(hash);
  }

  /**
   * Drops staged copies; resolves once the stores have let go of them, or after a
   * short wait for one that does not answer (it sweeps unclaimed stages itself).
   */
  private async dropStages(stages: Stage[], id: string): Promise<void> {
    const aborts = stages.map((s) => {
      s.sink.destroy();
      s.release();
      return this.pool.client(s.peer).abort(id).catch(() => undefined);
    });
    await Promise.race([Promise.all(aborts), sleep(ABORT_WAIT_MS)]);
  }
}

import { randomUUID } from "node:crypto";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type HashType, HashingStream } from "../core/hash.js";
import type { Candidate } from "../core/placement.js";
import { copyId, type Peer } from "../core/peer.js";
import { UploadGuard } from "../core/upload-guard.js";
import { AppError, NoPlacement, PeerUnavailable } from "../errors.js";
import type { Logger } from "../log.js";
import type { Existence } from "./existence.js";
import { type Branch, fanOut } from "./fanout.js";
import type { StorePool } from "../routing/pool.js";
import type { Copies } from "../routing/copies.js";
import type { UploadReply } from "../contracts/store.js";
import { placementCopies, uploadBytes, uploadDedupe, uploads } from "../metrics/index.js";
import { noteRoutedAround } from "./read-order.js";

// The write path. Bytes stream from the client straight to `replicas` stores
// while the prism hashes them (no prism temp file). Each store gets one
// request, ended by a trailer once the hash is known and the content's holders
// are checked: keep the copy under its hash, or drop it when the content
// already has its copies. A store lost on the way is replaced by a
// store-to-store send. The client hears success only when every copy is
// committed. A committed copy is never removed here: content is shared, and
// another upload may have been answered with it. An upload that fails after
// committing leaves its copies as content for the heal job to count.

export interface PlaceLimits {
  /** A store that takes no bytes for this long during an upload is dropped from it (0: never). */
  stallMs: number;
  /** A client that sends no byte for this long fails its upload with a 400. */
  clientIdleMs: number;
  maxBytes: number;
  /** How long a holder may take to confirm it still has the content. */
  checkMs: number;
  /** How often a store taking part in an upload is checked for having fallen under suspicion. */
  suspectPollMs: number;
}

export interface Placed {
  hash: string;
  hashType: HashType;
  ext: string;
  size: number;
  /** Every live copy after this upload, as `<prism>:<store>`. */
  copies: string[];
  /** Copies this upload added (0 for a duplicate). */
  added: number;
}

interface Stage extends Branch {
  peer: Peer;
  /** The store's health checkpoint when the stage opened: only a failure after it drops the stage. */
  since: number;
  result: Promise<UploadReply>;
  /** Ends the store's request with its order: `<hash>.<ext>` or `abort`. */
  order(order: string): void;
  /** Gives the copy up before its end: the store keeps nothing, and is not to blame. */
  abandon(): void;
  abandoned: boolean;
  release(): void;
}

export class Placer {
  constructor(
    private readonly pool: StorePool,
    private readonly copies: Copies,
    private readonly existence: Existence,
    private readonly replicas: number,
    private readonly log: Logger,
    private readonly limits: PlaceLimits,
  ) {}

  /** `ended` runs once the source has ended, before anything is committed: it throws to refuse what arrived. */
  async place(source: Readable, ext: string, hashType: HashType, ended?: () => void): Promise<Placed> {
    try {
      const placed = await this.placeOnce(source, ext, hashType, ended);
      uploads.inc({ outcome: placed.added === 0 ? "duplicate" : "ok" });
      if (placed.added === 0) uploadDedupe.inc();
      uploadBytes.inc(placed.size);
      return placed;
    } catch (err) {
      uploads.inc({ outcome: "error" });
      throw err;
    }
  }

  private async placeOnce(source: Readable, ext: string, hashType: HashType, ended?: () => void): Promise<Placed> {
    const healthy = this.pool.candidates();
    let ranked = this.pool.rank(healthy, this.replicas);
    // Suspicion is this prism's guess; with too few stores above it, the suspects get their chance.
    if (ranked.length < this.replicas) ranked = this.pool.rank(this.pool.candidates(true), this.replicas);
    else this.noteSuspects(healthy);
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
        new UploadGuard(this.limits.maxBytes, this.limits.clientIdleMs),
        hasher,
        fanOut(stages, () => new NoPlacement("Every store failed during the upload"), this.limits.stallMs),
      );
      ended?.();
    } catch (err) {
      for (const s of stages) s.abandon();
      throw err;
    }
    const hash = hasher.digest();
    const streamed = performance.now();
    let holders: Peer[];
    try {
      holders = await this.holders(hash);
    } catch (err) {
      // CouchDB is out: nothing is committed, and nothing staged stays behind.
      for (const s of stages) s.abandon();
      throw err;
    }
    const checked = performance.now();
    const placed = await this.commit(hash, ext, hashType, hasher.bytes, holders, stages);
    const ms = (t: number) => Math.round(t - started);
    this.log.debug(
      { hash, size: hasher.bytes, streamMs: ms(streamed), checkMs: ms(checked), totalMs: ms(performance.now()) },
      "placed",
    );
    return placed;
  }

  /** The writable stores left out of this upload because this prism suspects them. */
  private noteSuspects(healthy: Candidate[]): void {
    const chosen = new Set(healthy.map((c) => c.name));
    for (const c of this.pool.candidates(true)) if (!chosen.has(c.name)) noteRoutedAround(this.pool, c.name, "api");
  }

  /** Live holders of the content that still have it: the inventory alone may name a copy since lost. */
  private async holders(hash: string): Promise<Peer[]> {
    this.existence.invalidate(hash);
    const listed = await this.existence.liveCopies(hash);
    const checked = await Promise.all(
      listed.map(({ peer }) =>
        this.pool
          .client(peer)
          .exists(hash, this.limits.checkMs)
          .then(
            (e) => e.exists,
            () => false,
          ),
      ),
    );
    return listed.filter((_, i) => checked[i]).map((c) => c.peer);
  }

  /** A transport failure (not an answer) makes the store suspect, so the next choices route around it. */
  private noteFailure(s: Stage, err: unknown): void {
    if (s.abandoned) return;
    if (!(err instanceof AppError) || err instanceof PeerUnavailable) this.pool.health.failed(s.peer.name);
  }

  private openStage(c: Candidate, id: string, hashType: HashType): Stage {
    const peer = this.pool.peer(c.name)!;
    const sink = new PassThrough({ highWaterMark: 256 * 1024 });
    let order!: (o: string) => void;
    let abandon!: (err: Error) => void;
    const decided = new Promise<string>((resolve, reject) => {
      order = resolve;
      abandon = reject;
    });
    decided.catch(() => undefined);
    const result = this.pool.client(peer).upload(id, sink, hashType, decided);
    const stage: Stage = {
      peer,
      since: this.pool.health.checkpoint(),
      sink,
      result,
      failed: false,
      abandoned: false,
      order,
      abandon: () => {
        stage.abandoned = true;
        abandon(new PeerUnavailable("upload abandoned"));
        sink.destroy();
        stage.release();
      },
      release: this.pool.begin(c.name),
    };
    result.then(
      () => undefined,
      (err) => {
        stage.failed = true;
        sink.destroy();
        this.noteFailure(stage, err);
        if (!stage.abandoned) this.log.warn({ store: peer.name, err: err.message }, "upload: store dropped out");
      },
    );
    return stage;
  }

  /**
   * A stage's answer, unless its store drops out first: a failed ping, probe or request marks it suspect.
   * A store chosen while already suspect (too few others) is dropped only for a failure after that.
   */
  private answer(s: Stage): Promise<UploadReply> {
    if (s.failed) return Promise.reject(new PeerUnavailable(`${s.peer.name} dropped out of the upload`));
    return new Promise((resolve, reject) => {
      const watch = setInterval(() => {
        if (!this.pool.health.suspectSince(s.peer.name, s.since)) return;
        clearInterval(watch);
        reject(new PeerUnavailable(`${s.peer.name} stopped answering`));
      }, this.limits.suspectPollMs);
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

  private async commit(
    hash: string,
    ext: string,
    hashType: HashType,
    size: number,
    holders: Peer[],
    stages: Stage[],
  ): Promise<Placed> {
    const needed = Math.max(0, this.replicas - holders.length);
    const chosen = stages.filter((s) => !s.failed && !holders.some((h) => h.name === s.peer.name)).slice(0, needed);
    for (const s of stages) s.order(chosen.includes(s) ? `${hash}.${ext}` : "abort");
    const outcomes = await Promise.allSettled(stages.map((s) => this.answer(s)));
    for (const s of stages) s.release();
    const committed = chosen.flatMap((s) => {
      const o = outcomes[stages.indexOf(s)]!;
      if (o.status === "fulfilled" && o.value.committed && o.value.hash === hash && o.value.size === size) {
        return [s.peer];
      }
      const got = o.status === "fulfilled" ? `${o.value.hash}/${o.value.size}` : (o.reason as Error).message;
      this.log.warn({ store: s.peer.name, expected: `${hash}/${size}`, got }, "upload: copy not committed");
      return [];
    });
    // Everything landed as planned: the copies are known without asking CouchDB again.
    if (committed.length === needed) {
      for (const p of committed) placementCopies.inc({ zone: p.location.zone });
      const copies = [...holders, ...committed].map(copyId);
      return { hash, hashType, ext, size, copies, added: committed.length };
    }
    // A store lost on the way is replaced by a store-to-store copy from one that holds the content.
    if (committed.length + holders.length > 0) await this.copies.add(hash, needed - committed.length);
    this.existence.invalidate(hash);
    const after = await this.existence.liveCopies(hash);
    if (after.length < this.replicas) {
      throw new NoPlacement(`Only ${after.length} of ${this.replicas} copies could be written`);
    }
    const copies = after.map((c) => copyId({ prism: c.copy.prism, name: c.copy.store }));
    const fresh = after.filter((c) => !holders.some((h) => h.name === c.peer.name));
    for (const c of fresh) placementCopies.inc({ zone: c.peer.location.zone });
    return { hash, hashType, ext, size, copies, added: fresh.length };
  }
}

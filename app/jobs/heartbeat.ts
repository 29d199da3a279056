import { type Agent, request } from "undici";
import { nodeAgent } from "../client/http.js";
import type { Config } from "../config.js";
import { isCurrent, isDown, nextDelay, type Vote } from "../core/heartbeat.js";
import type { Peer } from "../core/peer.js";
import type { PeerDirectory, PeerView } from "../core/ports/peers.js";
import type { Votes } from "../core/ports/votes.js";
import type { Logger } from "../log.js";
import { lastGoodPing, peerUp, votesCast } from "../metrics/index.js";

// The ping net: every node pings every active peer on a sliding interval.
// After `retries` straight failures it votes the peer down (and renews the
// vote each round while the peer stays silent); a majority of the other
// active, available peers marks it unavailable. A successful ping takes back
// this node's own vote, and restores an unavailable peer, clearing every vote
// against it. Votes expire after voteLife and are pruned.

export interface HeartbeatDeps {
  votes: Votes;
  directory: Pick<PeerDirectory, "setAvailable">;
  peers: PeerView;
  /** This node's peer key, e.g. `store:prism1:store1`. */
  self: string;
  settings: Config["heartbeat"];
  log: Logger;
  now?: () => number;
  random?: () => number;
  /** Told of every ping's outcome, e.g. so request routing can avoid a silent peer before the vote. */
  onPing?: (peer: Peer, ok: boolean) => void;
}

export class Heartbeat {
  private readonly failures = new Map<string, number>();
  /** Peers this node holds a vote against. */
  private readonly voted = new Set<string>();
  private inRound?: Promise<void>;
  private readonly agent: Agent;
  private roundTimer?: NodeJS.Timeout;
  private pruneTimer?: NodeJS.Timeout;
  private running = false;
  private readonly now: () => number;
  private startedAt = 0;
  /** Peer names with metrics series, so a peer that leaves the table loses them. */
  private readonly shown = new Set<string>();

  constructor(private readonly d: HeartbeatDeps) {
    this.now = d.now ?? Date.now;
    this.agent = nodeAgent({ connect: { timeout: d.settings.pingTimeout }, keepAliveTimeout: 30_000 });
  }

  /** Clears the votes against this node (it is evidently up) and starts the rounds. */
  async start(): Promise<void> {
    this.running = true;
    this.startedAt = this.now();
    await this.d.votes
      .clear(this.d.self)
      .catch((err) => this.d.log.warn({ err: err.message }, "heartbeat: clear own votes"));
    this.schedule(this.d.settings.startDelay);
    this.pruneTimer = setInterval(() => void this.prune().catch(() => undefined), this.d.settings.votePruneFrequency);
    this.pruneTimer.unref();
  }

  /** Waits for a round in progress: pings cut short by the shutdown must not turn into votes. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.roundTimer);
    clearInterval(this.pruneTimer);
    await this.inRound?.catch(() => undefined);
    await this.agent.close();
  }

  private schedule(delay: number): void {
    if (!this.running) return;
    this.roundTimer = setTimeout(async () => {
      const started = this.now();
      this.inRound = this.round().catch((err) => this.d.log.warn({ err: err.message }, "heartbeat round failed"));
      await this.inRound;
      this.inRound = undefined;
      const { frequency, jitter } = this.d.settings;
      this.schedule(Math.max(0, nextDelay(frequency, jitter, this.d.random) - (this.now() - started)));
    }, delay);
    this.roundTimer.unref();
  }

  /** One round: ping every active peer but self, `concurrency` at a time. */
  async round(): Promise<void> {
    await this.d.peers.refresh().catch(() => undefined);
    const targets = this.d.peers.all().filter((p) => p.active && p.key !== this.d.self);
    this.showPeers(targets);
    const queue = [...targets];
    const worker = async () => {
      for (let p = queue.shift(); p; p = queue.shift()) await this.check(p);
    };
    await Promise.all(Array.from({ length: this.d.settings.concurrency }, worker));
  }

  private async check(peer: Peer): Promise<void> {
    const ok = await this.ping(peer);
    if (!this.running) return;
    this.d.onPing?.(peer, ok);
    peerUp.set({ peer: peer.name, type: peer.type }, ok ? 1 : 0);
    if (ok) {
      lastGoodPing.set(peer.name, this.now());
      this.failures.set(peer.key, 0);
      if (!peer.available) await this.restore(peer);
      else if (this.voted.has(peer.key)) await this.withdraw(peer);
      return;
    }
    const count = (this.failures.get(peer.key) ?? 0) + 1;
    this.failures.set(peer.key, count);
    if (count >= Math.max(1, this.d.settings.retries)) await this.voteDown(peer, `${count} failed pings`);
  }

  /** Series for the peers pinged now: a new one's ping age counts from the heartbeat's start; gone ones are dropped. */
  private showPeers(targets: Peer[]): void {
    const names = new Set(targets.map((p) => p.name));
    for (const name of this.shown) {
      if (names.has(name)) continue;
      this.shown.delete(name);
      lastGoodPing.delete(name);
      for (const type of ["prism", "store"]) peerUp.remove({ peer: name, type });
    }
    for (const name of names) {
      this.shown.add(name);
      if (!lastGoodPing.has(name)) lastGoodPing.set(name, this.startedAt);
    }
  }

  async ping(peer: Peer): Promise<boolean> {
    try {
      const res = await request(`${peer.url}/ping`, {
        method: "POST",
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.d.settings.pingTimeout),
      });
      const body = (await res.body.json()) as { pong?: string };
      return res.statusCode === 200 && body.pong === "pong";
    } catch {
      return false;
    }
  }

  private async voteDown(peer: Peer, reason: string): Promise<void> {
    const vote: Vote = { castee: peer.key, caster: this.d.self, castAt: this.now(), reason };
    await this.d.votes.cast(vote);
    // Renewals of a standing vote are not new votes.
    if (!this.voted.has(peer.key)) votesCast.inc({ peer: peer.name });
    this.voted.add(peer.key);
    const votes = await this.d.votes.against(peer.key);
    // Voters: the active peers other than the castee that can vote at all (an unavailable one cannot).
    const voters = new Set(
      this.d.peers
        .all()
        .filter((p) => p.active && p.key !== peer.key && (p.available || p.key === this.d.self))
        .map((p) => p.key),
    );
    voters.add(this.d.self);
    if (peer.available && isDown(votes, voters, this.now(), this.d.settings.voteLife)) {
      this.d.log.warn(
        { peer: peer.key, votes: votes.length, voters: voters.size },
        "heartbeat: marking peer unavailable",
      );
      await this.d.directory.setAvailable(peer.key, false);
      await this.d.peers.refresh().catch(() => undefined);
    }
  }

  private async restore(peer: Peer): Promise<void> {
    this.d.log.info({ peer: peer.key }, "heartbeat: peer answers again, restoring");
    await this.d.votes.clear(peer.key);
    this.voted.delete(peer.key);
    await this.d.directory.setAvailable(peer.key, true);
    await this.d.peers.refresh().catch(() => undefined);
  }

  /** The peer answers this node again: its own vote no longer stands (others keep theirs until they see it too). */
  private async withdraw(peer: Peer): Promise<void> {
    await this.d.votes.withdraw(peer.key, this.d.self);
    this.voted.delete(peer.key);
  }

  /** Deletes votes older than voteLife, whoever cast them (OOSE's prune never fired). */
  async prune(): Promise<number> {
    const stale = (await this.d.votes.all()).filter((v) => !isCurrent(v, this.now(), this.d.settings.voteLife));
    await this.d.votes.remove(stale);
    return stale.length;
  }
}

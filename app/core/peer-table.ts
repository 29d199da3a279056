import { BackendUnavailable } from "../errors.js";
import type { Logger } from "../log.js";
import { isLive, type Peer } from "./peer.js";
import type { PeerDirectory, PeerView } from "./ports/peers.js";

/**
 * The in-memory peer table every node routes with: refreshed from the
 * directory on an interval, so the hot path never asks it. A failed refresh keeps the last table, and so
 * does an empty answer once peers were known: that is a wiped or recreated database (nodes register
 * themselves), and an empty table would make every file look absent.
 */
export class PeerTable implements PeerView {
  private peers: Peer[] = [];
  private timer?: NodeJS.Timeout;
  private loaded = false;
  private failing = false;
  private readonly listeners = new Set<(peers: Peer[]) => void>();

  constructor(
    private readonly directory: PeerDirectory,
    private readonly refreshEvery: number,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.timer) return;
    await this.refresh().catch((err) => this.log.warn({ err: err.message }, "peer table: first load failed"));
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.refreshEvery);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get ready(): boolean {
    return this.loaded;
  }

  get healthy(): boolean {
    return !this.failing;
  }

  async refresh(): Promise<void> {
    try {
      const peers = await this.directory.list();
      if (peers.length === 0 && this.peers.length > 0) throw new BackendUnavailable("Peer directory is empty");
      this.peers = peers;
      this.loaded = true;
      this.failing = false;
      for (const fn of this.listeners) fn(this.peers);
    } catch (err) {
      if (!this.failing)
        this.log.warn({ err: (err as Error).message }, "peer table refresh failed; keeping the last one");
      this.failing = true;
      throw err;
    }
  }

  onChange(fn: (peers: Peer[]) => void): void {
    this.listeners.add(fn);
  }

  all(): Peer[] {
    return this.peers;
  }

  stores(): Peer[] {
    return this.peers.filter((p) => p.type === "store");
  }

  prisms(): Peer[] {
    return this.peers.filter((p) => p.type === "prism");
  }

  store(name: string): Peer | undefined {
    return this.peers.find((p) => p.type === "store" && p.name === name);
  }

  /** Unlike OOSE, a down prism does not hide its stores: they serve on their own. */
  liveStores(): Peer[] {
    return this.stores().filter(isLive);
  }
}

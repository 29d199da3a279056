import { Value } from "@sinclair/typebox/value";
import type { Config } from "../../config.js";
import { isLive, type Peer, type PeerDoc, PeerDocSchema, peerKey } from "../../core/peer.js";
import type { Logger } from "../../log.js";
import { type Couch, couch, upsert } from "./index.js";

/** Writes this node's peer doc as available. An operator's `active: false` is kept (OOSE re-activated it). */
export async function registerSelf(db: Couch, config: Config): Promise<string> {
  const url = new URL(config.advertiseUrl);
  const key = peerKey(config.role, config.name, config.prism);
  const now = new Date().toISOString();
  await upsert<PeerDoc>(db.db<PeerDoc>("peer"), key, (cur) => ({
    type: config.role,
    name: config.name,
    ...(config.role === "store" ? { prism: config.prism } : {}),
    host: url.hostname,
    port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
    url: config.advertiseUrl.replace(/\/$/, ""),
    ...(config.publicUrl ? { publicUrl: config.publicUrl.replace(/\/$/, "") } : {}),
    ...(config.nginxUrl ? { nginxUrl: config.nginxUrl.replace(/\/$/, "") } : {}),
    location: { site: config.site, zone: config.zone, host: config.host },
    available: true,
    active: cur?.active ?? true,
    writable: cur?.writable ?? true,
    createdAt: cur?.createdAt ?? now,
    updatedAt: now,
  }));
  return key;
}

/** Flips `available`; going down records `unavailableSince` (kept if already set), coming back clears it. */
export async function setAvailable(db: Couch, key: string, available: boolean): Promise<void> {
  await upsert<PeerDoc>(db.db<PeerDoc>("peer"), key, (cur) => {
    if (!cur || (cur.available === available && (available ? !cur.unavailableSince : cur.unavailableSince))) return undefined;
    const now = new Date().toISOString();
    const { unavailableSince, ...rest } = cur;
    return available
      ? { ...rest, available, updatedAt: now }
      : { ...rest, available, updatedAt: now, unavailableSince: unavailableSince ?? now };
  });
}

export async function listPeers(db: Couch): Promise<Peer[]> {
  const res = await couch("list peers", () => db.db<PeerDoc>("peer").list({ include_docs: true }));
  const peers: Peer[] = [];
  for (const row of res.rows) {
    if (row.id.startsWith("_design/") || !row.doc) continue;
    const { _id, _rev, ...doc } = row.doc as PeerDoc & { _id: string; _rev: string };
    if (Value.Check(PeerDocSchema, doc)) peers.push({ ...doc, key: _id });
  }
  return peers;
}

/**
 * The in-memory peer table every node routes with: refreshed from CouchDB on an
 * interval, so the hot path never asks CouchDB. A failed refresh keeps the last table.
 */
export class PeerTable {
  private peers: Peer[] = [];
  private timer?: NodeJS.Timeout;
  private loaded = false;
  private failing = false;
  private readonly listeners = new Set<(peers: Peer[]) => void>();

  constructor(
    private readonly db: Couch,
    private readonly refreshEvery: number,
    private readonly log: Logger,
  ) {}

  /** Loads the table and keeps it fresh; a second call does nothing. */
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

  /** False while the last refresh failed: CouchDB is unreachable and the table may be stale. */
  get healthy(): boolean {
    return !this.failing;
  }

  async refresh(): Promise<void> {
    try {
      this.peers = await listPeers(this.db);
      this.loaded = true;
      this.failing = false;
      for (const fn of this.listeners) fn(this.peers);
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, "peer table refresh failed; keeping the last one");
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

  /** Live stores only. Unlike OOSE, a down prism does not hide its stores: they serve on their own. */
  liveStores(): Peer[] {
    return this.stores().filter(isLive);
  }
}

import type { Config } from "../../config.js";
import type { Peer, PeerDoc } from "../peer.js";

// The peer directory (`oose-peer`: `prism:<name>`, `store:<prism>:<name>`) and
// the in-memory view every node routes with.

/** What a node says about itself when it registers. */
export type SelfConfig = Pick<
  Config,
  "role" | "name" | "prism" | "advertiseUrl" | "publicUrl" | "nginxUrl" | "site" | "zone" | "host"
>;

export interface PeerDirectory {
  /** Writes this node's doc as available (an operator's `active: false` and `writable` are kept); returns its key. */
  registerSelf(self: SelfConfig): Promise<string>;
  /** Flips `available`: going down records `unavailableSince` (kept if set), coming back clears it. */
  setAvailable(key: string, available: boolean): Promise<void>;
  /** Records a store's disk space in its doc; nothing when the doc is gone. */
  setCapacity(key: string, capacity: NonNullable<PeerDoc["capacity"]>): Promise<void>;
  /** One peer; undefined when missing or not a valid peer doc. */
  get(key: string): Promise<Peer | undefined>;
  /** Every valid peer doc. */
  list(): Promise<Peer[]>;
}

/** The routing table: a snapshot of the directory, refreshed in the background. */
export interface PeerView {
  /** Loads the table and keeps it fresh; a second call does nothing. */
  start(): Promise<void>;
  stop(): void;
  /** Reads the directory now; a failure keeps the last table and rejects. */
  refresh(): Promise<void>;
  /** True once a load succeeded. */
  readonly ready: boolean;
  /** False while the last refresh failed: the table may be stale. */
  readonly healthy: boolean;
  onChange(fn: (peers: Peer[]) => void): void;
  all(): Peer[];
  stores(): Peer[];
  prisms(): Peer[];
  store(name: string): Peer | undefined;
  /** Stores up and not switched off. */
  liveStores(): Peer[];
}

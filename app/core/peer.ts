import { type Static, Type as T } from "@sinclair/typebox";

// Peer docs in `oose-peer`, keyed as OOSE 2.1 did: `prism:<name>` and
// `store:<prism>:<name>`. `host`/`port` stay for old tools; `url` is what we dial.

export const PeerDocSchema = T.Object({
  type: T.Union([T.Literal("prism"), T.Literal("store")]),
  name: T.String(),
  prism: T.Optional(T.String()),
  host: T.String(),
  port: T.Integer(),
  url: T.String(),
  publicUrl: T.Optional(T.String()),
  /** Stores: their nginx as peers reach it, when that is not publicUrl. */
  nginxUrl: T.Optional(T.String()),
  location: T.Object({ site: T.String(), zone: T.String(), host: T.String() }),
  available: T.Boolean(),
  active: T.Boolean(),
  writable: T.Boolean(),
  createdAt: T.String(),
  updatedAt: T.Optional(T.String()),
  /** When the heartbeat (or a clean stop) marked the peer unavailable; gone once it is back. Repair waits on it. */
  unavailableSince: T.Optional(T.String()),
  /** Stores: disk space, refreshed while running; placement prefers room. */
  capacity: T.Optional(T.Object({ free: T.Integer(), total: T.Integer(), at: T.String() })),
});
export type PeerDoc = Static<typeof PeerDocSchema>;

export type Peer = PeerDoc & { key: string };

export const peerKey = (type: "prism" | "store", name: string, prism?: string) =>
  type === "prism" ? `prism:${name}` : `store:${prism}:${name}`;

/** A copy's address in existence maps: `<prism>:<store>`. */
export const copyId = (store: { prism?: string; name: string }) => `${store.prism}:${store.name}`;

/** Usable for reads: up and not switched off by an operator. */
export const isLive = (p: Pick<PeerDoc, "available" | "active">) => p.available && p.active;

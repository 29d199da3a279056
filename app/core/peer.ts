import { type Static, Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { InventoryDoc } from "./inventory.js";

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

/** A stored doc as a peer; undefined when it fails the schema (a half-written or foreign doc must not route requests). */
export function asPeer(key: string, stored: object | undefined): Peer | undefined {
  if (!stored) return undefined;
  const { _id, _rev, ...doc } = stored as { _id?: string; _rev?: string };
  return Value.Check(PeerDocSchema, doc) ? { ...doc, key } : undefined;
}

export const peerKey = (type: "prism" | "store", name: string, prism?: string) =>
  type === "prism" ? `prism:${name}` : `store:${prism}:${name}`;

/** A copy's address, `<prism>:<store>`: in existence maps and as a send target. */
export const copyId = (store: { prism?: string; name: string }) => `${store.prism}:${store.name}`;

/** What a node registers itself as; `cur` is its doc so far (an operator's active and writable are kept). */
export function selfDoc(
  self: {
    role: "prism" | "store";
    name: string;
    prism?: string;
    advertiseUrl: string;
    publicUrl?: string;
    nginxUrl?: string;
    site: string;
    zone: string;
    host: string;
  },
  cur: PeerDoc | undefined,
  now: string,
): PeerDoc {
  const url = new URL(self.advertiseUrl);
  return {
    type: self.role,
    name: self.name,
    ...(self.role === "store" ? { prism: self.prism } : {}),
    host: url.hostname,
    port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
    url: self.advertiseUrl.replace(/\/$/, ""),
    ...(self.publicUrl ? { publicUrl: self.publicUrl.replace(/\/$/, "") } : {}),
    ...(self.nginxUrl ? { nginxUrl: self.nginxUrl.replace(/\/$/, "") } : {}),
    location: { site: self.site, zone: self.zone, host: self.host },
    available: true,
    active: cur?.active ?? true,
    writable: cur?.writable ?? true,
    createdAt: cur?.createdAt ?? now,
    updatedAt: now,
  };
}

/** The doc with `available` flipped (going down records unavailableSince, kept if set); undefined when nothing changes. */
export function withAvailability(cur: PeerDoc | undefined, available: boolean, now: string): PeerDoc | undefined {
  if (!cur || (cur.available === available && (available ? !cur.unavailableSince : cur.unavailableSince)))
    return undefined;
  const { unavailableSince, ...rest } = cur;
  return available
    ? { ...rest, available, updatedAt: now }
    : { ...rest, available, updatedAt: now, unavailableSince: unavailableSince ?? now };
}

/** Usable for reads: up and not switched off by an operator. */
export const isLive = (p: Pick<PeerDoc, "available" | "active">) => p.available && p.active;

/** A copy on a live store, with the store's peer doc. */
export interface LiveHolder {
  copy: InventoryDoc;
  peer: Peer;
}

/** The copies whose store is live, by the caller's peer table. */
export function liveHolders(copies: InventoryDoc[], peerOf: (store: string) => Peer | undefined): LiveHolder[] {
  return copies.flatMap((copy) => {
    const peer = peerOf(copy.store);
    return peer && isLive(peer) ? [{ copy, peer }] : [];
  });
}

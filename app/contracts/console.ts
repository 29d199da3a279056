import { type Static, Type as T } from "@sinclair/typebox";
import { errors, Nullable } from "./common.js";

// The web console under /console: its pages and assets (hidden from the
// OpenAPI document: they are not API), and the cluster view's JSON, which
// `oose status --json` prints too.

const Int = T.Integer();
const Str = T.String();

const HealCounts = { short: Int, healed: Int, copied: Int, bytes: Int, failed: Int };
export const HealStatus = T.Object({
  ...HealCounts,
  state: T.Union([T.Literal("healing"), T.Literal("done")]),
  runner: Str,
  cursor: T.Optional(Str),
  hashes: Int,
  unreachable: Int,
  deferred: Int,
  startedAt: Str,
  finishedAt: T.Optional(Str),
  ms: Int,
  bytesPerSec: Int,
  total: T.Object(HealCounts),
  lastHealedAt: T.Optional(Str),
  lastPass: T.Optional(T.Object({ under: Int, noLive: Int, backlog: Int, at: Int })),
});

const ScrubCounts = { checked: Int, bytes: Int, corrupt: Int, missing: Int };
const ScrubPass = {
  ...ScrubCounts,
  state: T.Union([T.Literal("scrubbing"), T.Literal("done")]),
  store: Str,
  cursor: T.Optional(Str),
  seen: Int,
  failed: Int,
  oldestVerifiedAt: Nullable(Int),
  unverified: Int,
  startedAt: Str,
  finishedAt: T.Optional(Str),
  ms: Int,
  bytesPerSec: Int,
};
export const ScrubStatus = T.Object({
  ...ScrubPass,
  total: T.Object(ScrubCounts),
  last: T.Optional(T.Object(ScrubPass)),
});

export const StoreStatus = T.Object({
  name: Str,
  prism: Str,
  zone: Str,
  host: Str,
  /** Up and switched on, as the peer table (the heartbeat's verdict) has it. */
  live: T.Boolean(),
  available: T.Boolean(),
  active: T.Boolean(),
  writable: T.Boolean(),
  disk: Nullable(T.Object({ free: Int, total: Int, used: Int, at: Str })),
  /** Recorded in the inventory (missing without an inventory pass). */
  copies: T.Optional(Int),
  bytes: T.Optional(Int),
});

export const InventorySummary = T.Object({
  /** When the pass over the inventory ran. */
  at: Str,
  hashes: Int,
  copies: Int,
  /** 0 < live copies < replicas. */
  underReplicated: Int,
  /** Known, but no copy on a live store. */
  unavailable: Int,
  overReplicated: Int,
  /** Copies recorded on stores that are not in the peer list. */
  unknownStores: Int,
});

/** A failure this prism answered (5xx): what a user was told, never its cause. */
export const RecentError = T.Object({ at: Str, method: Str, url: Str, status: Int, code: Str, error: Str });

export const ClusterStatus = T.Object({
  at: Str,
  replicas: Int,
  prisms: T.Array(T.Object({ name: Str, zone: Str, host: Str, url: Str, available: T.Boolean(), active: T.Boolean() })),
  stores: T.Array(StoreStatus),
  votes: T.Array(T.Object({ castee: Str, caster: Str, castAt: Str, reason: Str })),
  /** Peers with current votes against them, and the majority needed to mark them down. */
  downVotes: T.Array(T.Object({ peer: Str, votes: Int, needed: Int })),
  inventory: T.Optional(InventorySummary),
  /** The heal job's current or last pass; null before the first. */
  heal: T.Optional(Nullable(HealStatus)),
  /** Each store's scrub pass; null for a store that has not scrubbed yet. */
  scrub: T.Optional(T.Array(T.Object({ store: Str, status: Nullable(ScrubStatus) }))),
  hot: T.Optional(
    T.Object({
      window: Int,
      threshold: Int,
      top: T.Array(T.Object({ hash: Str, deliveries: Int })),
      extra: T.Array(T.Object({ hash: Str, stores: T.Array(Str) })),
    }),
  ),
  /** The console's view only: the prism that answered, and its recent failures. */
  seenBy: T.Optional(Str),
  errors: T.Optional(T.Array(RecentError)),
});

/** A page or an asset, sent as bytes with its own type. */
const Asset = T.Unsafe<Buffer>({ description: "a console page or asset" });
const hide = { hide: true } as const;

/** 401: no session (or an expired one); 403: a session without the admin role. */
export const consoleRoutes = {
  page: { ...hide, response: { 200: Asset, ...errors() } },
  asset: {
    ...hide,
    params: T.Object({ asset: T.String({ maxLength: 64 }) }),
    response: { 200: Asset, ...errors(404) },
  },
  cluster: { response: { 200: ClusterStatus, ...errors(401, 403, 503) } },
};

export type HealStatus = Static<typeof HealStatus>;
export type ScrubStatus = Static<typeof ScrubStatus>;
export type StoreStatus = Static<typeof StoreStatus>;
export type InventorySummary = Static<typeof InventorySummary>;
export type RecentError = Static<typeof RecentError>;
export type ClusterStatus = Static<typeof ClusterStatus>;

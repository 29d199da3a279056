import type { Readable } from "node:stream";
import { type Static, type TOptional, type TSchema, type TString, Type as T } from "@sinclair/typebox";
import { HASH_TYPE_NAMES, type HashType } from "../core/hash.js";

// What both APIs share: the error body, the pieces of requests and replies
// that recur, and the routes every node answers (/, /ping, /stats, /healthz,
// /livez, /readyz).
// One schema serves the route (validation, serialisation) and the client
// (its types, through Static<>).

/**
 * Every failure: a message and a stable code (app/errors.ts). Some errors add details (retryAfter,
 * fileDetail…), so the body stays open.
 */
export const ErrorBody = T.Object({ error: T.String(), code: T.String() }, { additionalProperties: true });
export type ErrorBody = Static<typeof ErrorBody>;

/** The error replies of a route, by status. Any route can meet a bug, so 500 is always one. */
export function errors<S extends number>(...statuses: S[]): Record<S | 500, typeof ErrorBody> {
  const out = { 500: ErrorBody } as Record<S | 500, typeof ErrorBody>;
  for (const status of statuses) out[status] = ErrorBody;
  return out;
}

/** A reply streamed as it is (a file's bytes): typed for the handler, never serialised (fastify passes streams on). */
export const Bytes = T.Unsafe<Readable>({ description: "bytes, streamed" });

export const Nullable = <S extends TSchema>(s: S) => T.Union([s, T.Null()]);

/**
 * Hashes and file names are plain strings here: the layout guard checks them and answers
 * INVALID_HASH / INVALID_FILE_NAME rather than a generic schema error.
 */
export const Hash = T.String({ maxLength: 200 });
export const FileName = T.String({ maxLength: 200 });

/** A reply that also names its hash by type (`sha1: "…"`, as OOSE did) has one of these. */
export const hashByType = Object.fromEntries(HASH_TYPE_NAMES.map((h) => [h, T.Optional(T.String())])) as Record<
  HashType,
  TOptional<TString>
>;

// The routes every node answers.
export const Welcome = T.Object({ message: T.String() });
/** OOSE's counters, nested by the parts of their names: open-ended by nature. */
export const Stats = T.Record(T.String(), T.Unknown());
export const Pong = T.Object({ pong: T.String() });
const Probe = T.Object({ ok: T.Boolean(), ms: T.Integer(), error: T.Optional(T.String()) });
/** The health answer, 200 when both backends answer, 503 (the same body) when not. */
export const Health = T.Object({
  /** "ok" or "unavailable" */
  status: T.String(),
  role: T.String(),
  name: T.String(),
  couchdb: Probe,
  redis: Probe,
});

/** Liveness: the process serves requests. It asks no backend, so an outage of one never restarts a node. */
export const Live = T.Object({ status: T.Literal("ok"), role: T.String(), name: T.String(), uptimeS: T.Integer() });

export const nodeReplies = {
  welcome: { 200: Welcome, ...errors() },
  ping: { 200: Pong, ...errors() },
  stats: { 200: Stats, ...errors() },
  health: { 200: Health, 503: Health, ...errors() },
  live: { 200: Live, ...errors() },
  /** Readiness: 200 with the probes; 503 BACKEND_UNAVAILABLE (the probes added) while a backend does not answer. */
  ready: { 200: Health, ...errors(503) },
  /** Prometheus text, not JSON: only its failures have a schema. */
  metrics: errors(401),
};

export type Pong = Static<typeof Pong>;
export type Health = Static<typeof Health>;
export type Live = Static<typeof Live>;

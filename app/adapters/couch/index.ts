import { readFileSync } from "node:fs";
import nano, { type DocumentScope, type ServerScope } from "nano";
import { Agent } from "undici";
import type { Config } from "../../config.js";
import { AppError, BackendUnavailable, DatabaseMissing } from "../../errors.js";
import { couchDuration, opLabel } from "../../metrics/index.js";

// CouchDB through nano, with an explicit timeout on every call. Database names
// follow OOSE 2.1: <database>-peer, -inventory, -heartbeat (and -meta for migrations).

export const DB_KINDS = ["peer", "inventory", "heartbeat", "meta"] as const;
/** Databases later migrations add (0005-owners: who uploaded what). */
export const LATER_DB_KINDS = ["owner"] as const;
export type DbKind = (typeof DB_KINDS)[number] | (typeof LATER_DB_KINDS)[number];

export interface Couch {
  server: ServerScope;
  db<D extends object = Record<string, unknown>>(kind: DbKind): DocumentScope<D>;
  name(kind: DbKind): string;
  /** The connections nano uses (timeouts, the CA), for calls made beside nano. */
  dispatcher: Agent;
  close(): Promise<void>;
}

/** What a connection needs; the batching settings are the writer's. */
export type CouchSettings = Omit<Config["couchdb"], "batch">;

export function couchUrl(cfg: CouchSettings): string {
  const url = new URL(cfg.url);
  if (cfg.username) url.username = encodeURIComponent(cfg.username);
  if (cfg.password) url.password = encodeURIComponent(cfg.password);
  return url.toString().replace(/\/$/, "");
}

export function openCouch(cfg: CouchSettings): Couch {
  const agent = new Agent({
    // An https:// CouchDB is verified against couchdb.ca alone when it is set.
    connect: { timeout: cfg.timeoutMs, ca: cfg.ca ? readFileSync(cfg.ca, "utf8") : undefined },
    headersTimeout: cfg.timeoutMs,
    bodyTimeout: cfg.timeoutMs,
    keepAliveTimeout: 10_000,
    connections: 64,
  });
  // nano types agentOptions as a class; at runtime it takes any undici dispatcher.
  const server = nano({
    url: couchUrl(cfg),
    agentOptions: agent as unknown as nano.Configuration["agentOptions"],
    // nano asks for gzip; between nodes and CouchDB on one network, compressing every page costs both ends more CPU than it saves.
    headers: { "Accept-Encoding": "identity" },
  });
  const name = (kind: DbKind) => `${cfg.database}-${kind}`;
  return {
    server,
    name,
    db: <D extends object>(kind: DbKind) => server.use<D>(name(kind)),
    dispatcher: agent,
    close: () => agent.close(),
  };
}

interface CouchError {
  statusCode?: number;
  error?: string;
  reason?: string;
}

/** A missing database answers 404 like a missing doc; CouchDB and the stand-in give these reasons. */
const MISSING_DB = new Set(["Database does not exist.", "no_db_file"]);
const isMissingDb = (err: unknown) =>
  (err as CouchError)?.statusCode === 404 && MISSING_DB.has((err as CouchError).reason ?? "");

export const isNotFound = (err: unknown) => (err as CouchError)?.statusCode === 404;
export const isConflict = (err: unknown) => (err as CouchError)?.statusCode === 409;

/**
 * Runs a CouchDB call. A missing doc (404), a conflict (409) and an existing
 * database (412) are answers, left for the caller to interpret; a missing
 * database is the deployment's fault, and anything else an outage: both 503.
 * Timed by operation (the verb of `what`): outcome unavailable for an outage, error for any other failure.
 */
export async function couch<T>(what: string, call: () => Promise<T>): Promise<T> {
  const end = couchDuration.startTimer({ op: opLabel(what) });
  try {
    const result = await call();
    end({ outcome: "ok" });
    return result;
  } catch (err) {
    const classified = classifyCouch(what, err);
    end({ outcome: classified instanceof BackendUnavailable ? "unavailable" : "error" });
    throw classified;
  }
}

function classifyCouch(what: string, err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (isMissingDb(err)) return new DatabaseMissing(`CouchDB database missing (${what})`, undefined, err);
  const status = (err as CouchError)?.statusCode;
  if (status === 404 || status === 409 || status === 412) return err;
  return new BackendUnavailable(`CouchDB unavailable (${what})`, undefined, err);
}

/** get() that answers undefined for a missing doc and 503 for an unreachable CouchDB. */
export async function getOrUndefined<D>(
  db: DocumentScope<D>,
  id: string,
): Promise<(D & nano.DocumentGetResponse) | undefined> {
  try {
    return await couch(`get ${id}`, () => db.get(id));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Read-modify-write with retries on revision conflicts (OOSE only logged them). */
export async function upsert<D extends object>(
  db: DocumentScope<D>,
  id: string,
  change: (current: (D & { _rev?: string }) | undefined) => (D & { _rev?: string }) | undefined,
  attempts = 5,
): Promise<void> {
  for (let i = 0; ; i++) {
    const current = await getOrUndefined(db, id);
    const next = change(current as (D & { _rev?: string }) | undefined);
    if (!next) return;
    try {
      await couch(`put ${id}`, () => db.insert({ ...next, _id: id, _rev: current?._rev } as D & { _id: string }));
      return;
    } catch (err) {
      if (!isConflict(err) || i >= attempts - 1) throw err;
    }
  }
}

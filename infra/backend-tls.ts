import type { Addressing, Endpoint } from "../app/topology/env.js";
import type { Layout, Service } from "./layout.js";

// The backend hops on TLS: CouchDB's own TLS listener (its [ssl] section) on
// 6984 beside the plain 5984, which only the healthcheck on loopback and
// CouchDB's own _cluster_setup calls between its nodes use; Redis and the
// Sentinels on TLS alone. Nodes verify all three against the cluster CA file
// their container holds.

/** CouchDB's TLS port in its container; across hosts published at the plain port + 1000 (5984 → 6984). */
export const COUCHDB_TLS_PORT = 6984;
const TLS_OFFSET = COUCHDB_TLS_PORT - 5984;

/** How the other containers reach a CouchDB node's TLS listener. */
export const couchTls = (s: Service): Endpoint =>
  s.published === undefined
    ? { host: s.container, port: COUCHDB_TLS_PORT }
    : { host: s.reach.host, port: s.published + TLS_OFFSET };

/** The published TLS port of a CouchDB node, when it publishes. */
export const couchTlsPublished = (s: Service) => (s.published === undefined ? undefined : s.published + TLS_OFFSET);

/** A node's addressing with CouchDB at https:// (the same node as before) and Redis on TLS, trusting the CA file `ca`. */
export function backendTls(layout: Layout, at: Addressing, ca: string): Addressing {
  const couch = layout.couchdb.find((s) => at.couchdbUrl.includes(`//${s.reach.host}:${s.reach.port}`));
  if (!couch) throw new Error(`no CouchDB node at ${at.couchdbUrl}`);
  const tls = couchTls(couch);
  return { ...at, couchdbUrl: `https://${tls.host}:${tls.port}`, couchdbCa: ca, redis: { ...at.redis, tls: { ca } } };
}

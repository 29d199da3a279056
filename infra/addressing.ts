import type { Addressing } from "../app/topology/env.js";
import type { ClusterNode } from "../app/topology/model.js";
import type { Layout, Service } from "./layout.js";

// The Docker renderer's answer to nodeEnv's "where": containers listen on all
// interfaces, and advertise the name (one host) or address:port (many hosts)
// the others reach them by. The node APIs speak HTTPS with a certificate from
// the cluster CA (components/ca.ts), uploaded at NODE_TLS.

export const DATA_ROOT = "/data";
/** A node's certificate, key and the cluster CA inside its container. */
export const NODE_TLS = { cert: "/etc/oose/tls/node.crt", key: "/etc/oose/tls/node.key", ca: "/etc/oose/tls/ca.crt" };

const url = (s: Service) => `http://${s.reach.host}:${s.reach.port}`;
/** How the other containers reach a prism's or store's API. */
export const apiUrl = (s: Service) => `https://${s.reach.host}:${s.reach.port}`;

/** Addressing for nodes on `host`: its CouchDB is the one on the same host when there is one. */
export function dockerAddressing(layout: Layout, host: string): Addressing {
  const api = (node: ClusterNode) => {
    const s = (node.role === "prism" ? layout.prisms : layout.stores).find((x) => x.name === node.name);
    if (!s) throw new Error(`${node.role} ${node.name} is not in the layout`);
    return s;
  };
  const couch = layout.couchdb.find((s) => s.host.name === host) ?? layout.couchdb[0]!;
  return {
    couchdbUrl: url(couch),
    redis: { sentinels: layout.sentinels.map((s) => s.reach) },
    api: (node) => ({ listen: { host: "0.0.0.0", port: api(node).port }, advertiseUrl: apiUrl(api(node)) }),
    tls: () => NODE_TLS,
    publicUrl: (node) => (node.role === "store" ? layout.publicUrl(node.name) : undefined),
    // End users' names for the stores need not resolve, or lead back in, from inside a container.
    nginxUrl: (node) => (node.role === "store" ? layout.nginxUrl(node.name) : undefined),
    dataRoot: () => DATA_ROOT,
  };
}

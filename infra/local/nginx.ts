import { chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { Config } from "../../app/config.js";
import type { Endpoint } from "../../app/topology/env.js";
import { renderFrontNginx } from "../../nginx/front.js";
import { renderStoreNginx, type StoreNginxOptions, storeNginxOptions } from "../../nginx/store.js";
import { HOST } from "./addressing.js";
import type { ClusterPki } from "./pki.js";
import type { Proc } from "./proc.js";
import { startNginx } from "./services.js";

// The local cluster's nginx: one per store, rendered from the store's own
// config as the deployment renders it, and the front before the prisms.

export function startStoreNginx(o: {
  config: Config;
  port: number;
  /** The store's nginx as end users reach it. */
  publicUrl: string;
  dataDir: string;
  logDir: string;
  rate?: StoreNginxOptions["rate"];
}): Promise<Proc> {
  const options = storeNginxOptions(o.config, { listen: { host: HOST, port: o.port }, rate: o.rate });
  mkdirSync(options.contentRoot, { recursive: true });
  if (options.accessLogDir) {
    mkdirSync(options.accessLogDir, { recursive: true });
    // Under root, nginx's workers (nobody) create the day files; the node (root) reads and deletes them.
    if (process.getuid?.() === 0) chmodSync(options.accessLogDir, 0o1733);
  }
  return startNginx({
    name: `nginx-${o.config.name}`,
    prefix: path.join(o.dataDir, "nginx", o.config.name),
    conf: renderStoreNginx(options),
    logDir: o.logDir,
    // stub_status, which the access log leaves out: a start adds no line to it.
    readyUrl: `${o.publicUrl}/nginx_status`,
  });
}

/** The front terminates TLS with its own certificate and verifies the prisms against the CA. */
export function startFrontNginx(o: {
  port: number;
  url: string;
  prisms: Endpoint[];
  dataDir: string;
  logDir: string;
  pki?: ClusterPki;
  caPem?: string;
}): Promise<Proc> {
  return startNginx({
    name: "nginx-front",
    prefix: path.join(o.dataDir, "nginx", "front"),
    conf: renderFrontNginx({
      listen: { host: HOST, port: o.port },
      prisms: o.prisms,
      tls: o.pki && { cert: o.pki.cert("nginx-front"), key: o.pki.key("nginx-front") },
      upstreamTls: o.pki && { ca: o.pki.ca, name: "localhost" },
    }),
    logDir: o.logDir,
    readyUrl: `${o.url}/nginx_status`,
    ca: o.caPem,
  });
}

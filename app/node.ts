import type { NodeApp, NodeDeps } from "./http/node.js";

/** What a role module builds: an app (not yet listening) plus the work that runs beside it. */
export interface RoleNode {
  app: NodeApp;
  /** After listen: register in the peer DB, start jobs. */
  start(): Promise<void>;
  /** Before close: mark unavailable, stop jobs. */
  stop(): Promise<void>;
}

export type BuildRole = (deps: NodeDeps) => Promise<RoleNode>;

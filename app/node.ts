import type { NodeApp } from "./http/node.js";

/** What the composition makes of a role: its app (not yet listening) plus the work that runs beside it. */
export interface RoleNode {
  app: NodeApp;
  /** After listen: register in the peer directory, start jobs. */
  start(): Promise<void>;
  /** Before close: mark unavailable, stop jobs. */
  stop(): Promise<void>;
}

import type { FastifyReply, FastifyRequest } from "fastify";
import type { StorePool } from "../routing/pool.js";
import type { Config } from "../config.js";
import type { PeerView } from "../core/ports/peers.js";
import type { UserDirectory } from "../core/ports/users.js";
import type { NodeApp } from "../http/node.js";
import type { Logger } from "../log.js";
import type { Existence } from "./existence.js";
import type { LoginLimit } from "./login-limit.js";
import type { Ownership } from "./ownership.js";
import type { Placer } from "./place.js";

export type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Everything a prism route needs, built once in buildPrism. */
export interface PrismContext {
  config: Config;
  log: Logger;
  app: NodeApp;
  peers: PeerView;
  existence: Existence;
  pool: StorePool;
  placer: Placer;
  /** Who uploaded what: recorded by uploads, read by list and delete. */
  ownership: Ownership;
  users: UserDirectory;
  loginLimit: LoginLimit;
  /** Session routes: X-OOSE-Token, or the prism's basic auth. */
  session: Guard;
  /** Private routes: the prism's basic auth only. */
  privateAuth: Guard;
}

import type { FastifyReply, FastifyRequest } from "fastify";
import type { PeerView } from "../core/ports/peers.js";
import type { NodeApp, NodeDeps } from "../http/node.js";
import type { Existence } from "./existence.js";
import type { Placer } from "./place.js";
import type { StorePool } from "../client/pool.js";

export type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Everything a prism route needs, built once in buildPrism. */
export interface PrismContext extends NodeDeps {
  app: NodeApp;
  peers: PeerView;
  existence: Existence;
  pool: StorePool;
  placer: Placer;
  /** Session routes: X-OOSE-Token, or the prism's basic auth. */
  session: Guard;
  /** Private routes: the prism's basic auth only. */
  privateAuth: Guard;
}

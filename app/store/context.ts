import type { PeerDirectory } from "../core/ports/peers.js";
import type { NodeApp, NodeDeps } from "../http/node.js";
import type { StoreContent } from "./content.js";
import type { Staging } from "./staging.js";

/** Everything a store route needs, built once in the store's build(). */
export interface StoreContext extends NodeDeps {
  app: NodeApp;
  content: StoreContent;
  directory: PeerDirectory;
  staging: Staging;
}

import type { Config } from "../config.js";
import type { PeerDirectory } from "../core/ports/peers.js";
import type { NodeApp } from "../http/node.js";
import type { Logger } from "../log.js";
import type { StoreContent } from "./content.js";
import type { Staging } from "./staging.js";

/** Everything a store route needs, built once in buildStore. */
export interface StoreContext {
  config: Config;
  log: Logger;
  app: NodeApp;
  content: StoreContent;
  directory: PeerDirectory;
  staging: Staging;
}

import { PeerTable, registerSelf, setAvailable } from "../adapters/couch/peers.js";
import { createNodeApp } from "../http/node.js";
import type { BuildRole } from "../node.js";

export const build: BuildRole = async (deps) => {
  const app = createNodeApp(deps);
  const peers = new PeerTable(deps.couch, deps.config.heartbeat.peerRefresh, deps.log);
  let key: string | undefined;
  return {
    app,
    async start() {
      key = await registerSelf(deps.couch, deps.config);
      await peers.start();
    },
    async stop() {
      peers.stop();
      if (key) await setAvailable(deps.couch, key, false).catch(() => undefined);
    },
  };
};

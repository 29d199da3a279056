import { registerSelf, setAvailable } from "../adapters/couch/peers.js";
import { createNodeApp } from "../http/node.js";
import type { BuildRole } from "../node.js";

export const build: BuildRole = async (deps) => {
  const app = createNodeApp(deps);
  let key: string | undefined;
  return {
    app,
    async start() {
      key = await registerSelf(deps.couch, deps.config);
    },
    async stop() {
      if (key) await setAvailable(deps.couch, key, false).catch(() => undefined);
    },
  };
};

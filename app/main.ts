import { trustNodeCa } from "./client/http.js";
import { openBackends } from "./compose/drivers.js";
import { ConfigError, loadConfig } from "./config.js";
import { logger } from "./log.js";
import { clusterCa, serverTls, TlsError } from "./tls.js";
import { isSupervisor, supervise } from "./workers.js";

// Starts one node (prism or store) from OOSE_* env / OOSE_CONFIG, the same way
// in a container as in the local cluster. SIGTERM/SIGINT stop it gracefully.

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
    // Certificates are read (and checked) now, so a bad path is a config error, not a crash.
    serverTls(config.tls);
    trustNodeCa(clusterCa(config.tls));
  } catch (err) {
    if (err instanceof ConfigError || err instanceof TlsError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = logger(config.role, config.name);
  if (isSupervisor(config)) return supervise(config, log);
  const backends = openBackends(config, log);
  const node =
    config.role === "prism"
      ? await (await import("./compose/prism.js")).composePrism(config, log, backends)
      : await (await import("./compose/store.js")).composeStore(config, log, backends);

  await node.app.listen({ host: config.listen.host, port: config.listen.port });
  await node.start();
  log.info({ url: config.advertiseUrl }, `${config.role} ${config.name} ready`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    try {
      await node.stop();
      await node.app.close();
    } finally {
      await backends.close();
      process.exit(0);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err) => {
  process.stderr.write(`fatal: ${err?.stack ?? err}\n`);
  process.exit(1);
});

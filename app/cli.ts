import { Command } from "commander";
import { trustNodeCa } from "./client/http.js";
import { useClusterFile } from "./cli/cluster-file.js";
import { registerCommands } from "./cli/common.js";
import { toolCa } from "./tls.js";
import { VERSION } from "./version.js";

// The `oose` command. Each subcommand lives in app/cli/<name>.ts and registers
// itself with defineCommand(); adding one is one import line here.
import "./cli/config.js";
import "./cli/migrate.js";
import "./cli/operator.js";
import "./cli/store.js";
import "./cli/usage.js";
import "./cli/user.js";

// The cluster file fills in what env and OOSE_CONFIG leave unset; then commands that call nodes verify
// them as nodes do: against the cluster CA (OOSE_TLS__CA or tls.ca).
try {
  useClusterFile();
  trustNodeCa(toolCa());
} catch (err) {
  process.stderr.write(`oose: ${(err as Error).message}\n`);
  process.exit(2);
}

const program = new Command("oose")
  .description("OOSE: a self-hosted content-distribution cluster")
  .version(VERSION)
  .option(
    "--cluster <file>",
    "a cluster.json to read addresses and credentials from (default: OOSE_CLUSTER, or .oose/cluster.json if present)",
  )
  .showHelpAfterError();

await registerCommands(program).parseAsync(process.argv);
// Open sockets (keep-alive agents, Redis) must not keep a finished command alive.
process.exit(process.exitCode ?? 0);

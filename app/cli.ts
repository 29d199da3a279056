import { Command } from "commander";
import { registerCommands } from "./cli/common.js";
import { VERSION } from "./version.js";

// The `oose` command. Each subcommand lives in app/cli/<name>.ts and registers
// itself with defineCommand(); adding one is one import line here.
import "./cli/config.js";
import "./cli/migrate.js";

const program = new Command("oose")
  .description("OOSE: a self-hosted content-distribution cluster")
  .version(VERSION)
  .showHelpAfterError();

await registerCommands(program).parseAsync(process.argv);
// Open sockets (keep-alive agents, Redis) must not keep a finished command alive.
process.exit(process.exitCode ?? 0);

import { openCouch } from "../../app/adapters/couch/index.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import { addUser } from "../../app/adapters/couch/users.js";
import type { Config, Credentials } from "../../app/config.js";
import { startProc } from "./proc.js";
import { appArgs } from "./services.js";

// What a fresh CouchDB needs before the nodes start: the OOSE databases, the
// admin API user (a CouchDB user in _users, which prism login checks, with the
// admin role: in a deployment this login is CouchDB's server admin, whom prisms
// treat as an admin by its _admin role), and the migrations (design docs and data), as the deployment's migrate job runs them.

export async function bootstrapCouch(cfg: Config["couchdb"], admin: Credentials): Promise<void> {
  const couch = openCouch(cfg);
  try {
    await ensureDatabases(couch);
    await addUser(couch, admin.username, admin.password, ["admin"]);
  } finally {
    await couch.close();
  }
}

/** `oose migrate up` with a node's environment; throws with the log's path if it fails or outlasts `timeoutMs`. */
export async function migrateUp(env: NodeJS.ProcessEnv, logDir: string, timeoutMs: number): Promise<void> {
  const p = startProc("migrate", process.execPath, appArgs("cli", "migrate", "up"), { logDir, env });
  const timer = setTimeout(() => void p.stop("SIGKILL"), timeoutMs);
  const code = await p.exited.finally(() => clearTimeout(timer));
  if (code !== 0) throw new Error(`oose migrate up failed (exit ${code}); see ${p.logFile}`);
}

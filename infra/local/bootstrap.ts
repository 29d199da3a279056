import { openCouch } from "../../app/adapters/couch/index.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import { addUser } from "../../app/adapters/couch/users.js";
import type { Config } from "../../app/config.js";
import type { Credentials } from "../../app/topology/env.js";

// What a fresh CouchDB needs before the nodes start: the OOSE databases and
// the admin API user (a CouchDB user in _users, which prism login checks).

export async function bootstrapCouch(cfg: Config["couchdb"], admin: Credentials): Promise<void> {
  const couch = openCouch(cfg);
  try {
    await ensureDatabases(couch);
    await addUser(couch, admin.username, admin.password);
  } finally {
    await couch.close();
  }
}

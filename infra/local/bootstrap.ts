import { isNotFound, openCouch } from "../../app/adapters/couch/index.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import type { Config } from "../../app/config.js";
import type { Credentials } from "../../app/topology/env.js";

// What a fresh CouchDB needs before the nodes start: the OOSE databases and
// the admin API user (a CouchDB user in _users, which prism login checks).

interface CouchUser {
  name: string;
  type: "user";
  roles: string[];
  password: string;
}

export async function bootstrapCouch(cfg: Config["couchdb"], admin: Credentials): Promise<void> {
  const couch = openCouch(cfg);
  try {
    await ensureDatabases(couch);
    // A single-node CouchDB 3 has no _users until someone creates it.
    if (!(await couch.server.db.list()).includes("_users")) await couch.server.db.create("_users");
    const users = couch.server.use<CouchUser>("_users");
    const id = `org.couchdb.user:${admin.username}`;
    try {
      await users.get(id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await users.insert({ _id: id, name: admin.username, type: "user", roles: [], password: admin.password });
    }
  } finally {
    await couch.close();
  }
}

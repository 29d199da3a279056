import { type Couch, couch, getOrUndefined, isConflict, isNotFound } from "./index.js";

// API users are CouchDB users in `_users`, as OOSE had them, so accounts
// survive an upgrade and CouchDB keeps the password hashing.

interface CouchUser {
  name: string;
  type: "user";
  roles: string[];
  password?: string;
}

const userId = (name: string) => `org.couchdb.user:${name}`;

async function usersDb(db: Couch) {
  // A single-node CouchDB 3 has no _users until someone creates it.
  const names = await couch("list databases", () => db.server.db.list());
  if (!names.includes("_users")) {
    await couch("create _users", () => db.server.db.create("_users")).catch((err) => {
      if ((err as { statusCode?: number }).statusCode !== 412) throw err;
    });
  }
  return db.server.use<CouchUser>("_users");
}

/** Creates a user; false when the name is taken. */
export async function addUser(db: Couch, name: string, password: string, roles: string[] = []): Promise<boolean> {
  const users = await usersDb(db);
  try {
    await couch("add user", () => users.insert({ _id: userId(name), name, type: "user", roles, password }));
    return true;
  } catch (err) {
    if (isConflict(err)) return false;
    throw err;
  }
}

/** Sets a new password; false when there is no such user. */
export async function setPassword(db: Couch, name: string, password: string): Promise<boolean> {
  const users = await usersDb(db);
  const current = await getOrUndefined(users, userId(name));
  if (!current) return false;
  await couch("set password", () => users.insert({ ...current, password }));
  return true;
}

export async function removeUser(db: Couch, name: string): Promise<boolean> {
  const users = await usersDb(db);
  const current = await getOrUndefined(users, userId(name));
  if (!current) return false;
  try {
    await couch("remove user", () => users.destroy(current._id, current._rev));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return true;
}

export async function listUsers(db: Couch): Promise<{ name: string; roles: string[] }[]> {
  const users = await usersDb(db);
  const res = await couch("list users", () =>
    users.list({ startkey: "org.couchdb.user:", endkey: "org.couchdb.user:\ufff0", include_docs: true }),
  );
  return res.rows.flatMap((r) => (r.doc ? [{ name: r.doc.name, roles: r.doc.roles ?? [] }] : []));
}

import { type Dispatcher, request } from "undici";
import type { SessionUser } from "../../core/ports/sessions.js";
import type { UserDirectory } from "../../core/ports/users.js";
import { BackendUnavailable, InvalidCredentials } from "../../errors.js";
import { type Couch, type CouchSettings, couch, getOrUndefined, isConflict, isNotFound } from "./index.js";

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
async function setPassword(db: Couch, name: string, password: string): Promise<boolean> {
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

async function listUsers(db: Couch): Promise<{ name: string; roles: string[] }[]> {
  const users = await usersDb(db);
  const res = await couch("list users", () =>
    users.list({ startkey: "org.couchdb.user:", endkey: "org.couchdb.user:\ufff0", include_docs: true }),
  );
  return res.rows.flatMap((r) => (r.doc ? [{ name: r.doc.name, roles: r.doc.roles ?? [] }] : []));
}

async function userExists(db: Couch, name: string): Promise<boolean> {
  return (await getOrUndefined(await usersDb(db), userId(name))) !== undefined;
}

/**
 * Checks a password against CouchDB's /_session. Not through the node's nano
 * client: nano keeps the session cookie CouchDB answers with, and would send
 * it (which CouchDB checks before the node's own credentials) on every later
 * request. This call sends no credentials of the node and keeps no cookie; it
 * goes over nano's connections, so the same CA and timeouts apply.
 */
async function checkPassword(
  cfg: Pick<CouchSettings, "url" | "timeoutMs">,
  dispatcher: Dispatcher,
  name: string,
  password: string,
): Promise<{ name: string; roles: string[] }> {
  const url = new URL("_session", `${cfg.url.replace(/\/$/, "")}/`);
  url.username = "";
  url.password = "";
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(url, {
      dispatcher,
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ name, password }),
      headersTimeout: cfg.timeoutMs,
      bodyTimeout: cfg.timeoutMs,
      signal: AbortSignal.timeout(cfg.timeoutMs),
    });
  } catch (err) {
    throw new BackendUnavailable("Login failed: CouchDB unavailable", undefined, err);
  }
  const body = (await res.body.json().catch(() => ({}))) as { ok?: boolean; name?: string; roles?: string[] };
  if (res.statusCode === 401 || res.statusCode === 403) throw new InvalidCredentials();
  if (res.statusCode !== 200) throw new BackendUnavailable(`Login failed: CouchDB answered ${res.statusCode}`);
  if (!body.ok) throw new InvalidCredentials();
  return { name: body.name ?? name, roles: body.roles ?? [] };
}

/** The user directory over CouchDB's `_users`. */
export class CouchUsers implements UserDirectory {
  constructor(
    private readonly db: Couch,
    private readonly cfg: Pick<CouchSettings, "url" | "timeoutMs">,
  ) {}

  login(name: string, password: string): Promise<SessionUser> {
    return checkPassword(this.cfg, this.db.dispatcher, name, password);
  }

  exists(name: string): Promise<boolean> {
    return userExists(this.db, name);
  }

  add(name: string, password: string, roles: string[] = []): Promise<boolean> {
    return addUser(this.db, name, password, roles);
  }

  setPassword(name: string, password: string): Promise<boolean> {
    return setPassword(this.db, name, password);
  }

  remove(name: string): Promise<boolean> {
    return removeUser(this.db, name);
  }

  list(): Promise<SessionUser[]> {
    return listUsers(this.db);
  }
}

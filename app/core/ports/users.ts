import type { SessionUser } from "./sessions.js";

// API users (OOSE: CouchDB `_users`, so accounts survive an upgrade and the
// password hashing is CouchDB's).

export interface UserDirectory {
  /** The user if the password is theirs; InvalidCredentials otherwise, BackendUnavailable when it cannot tell. */
  login(name: string, password: string): Promise<SessionUser>;
  exists(name: string): Promise<boolean>;
  /** False when the name is taken. */
  add(name: string, password: string, roles?: string[]): Promise<boolean>;
  /** False when there is no such user. */
  setPassword(name: string, password: string): Promise<boolean>;
  /** False when there is no such user. */
  remove(name: string): Promise<boolean>;
  list(): Promise<SessionUser[]>;
}

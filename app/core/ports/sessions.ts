// Sessions, shared by every prism (OOSE 3: Redis, with a TTL). They are kept
// under an id the caller derives from the token (its digest), never the token
// itself. Each user's sessions are listed beside them, so all can be ended at once.

export interface SessionUser {
  name: string;
  roles: string[];
}

/** What is kept of a session. */
export interface StoredSession {
  ip: string;
  data: { userCtx: SessionUser; createdAt: string };
}

export interface SessionStore {
  /** Keeps a new session for `lifeMs`; resolves once it is durable (a replica holds it). */
  open(id: string, session: StoredSession, lifeMs: number): Promise<void>;
  read(id: string): Promise<StoredSession | undefined>;
  /** Extends a session (and its user's list) by `lifeMs` from now. */
  extend(id: string, user: string, lifeMs: number): Promise<void>;
  close(id: string): Promise<void>;
  /** Ends every session of `user`: how many there were. */
  closeAllOf(user: string): Promise<number>;
}

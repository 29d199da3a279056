import { createHash, randomBytes } from "node:crypto";
import type { SessionStore, SessionUser, StoredSession } from "../core/ports/sessions.js";
import type { UserDirectory } from "../core/ports/users.js";
import { Unauthorized } from "../errors.js";

// Logins as a prism serves them. A login (its password checked by the user
// directory) gets our own random token; the session store keeps it under the
// token's SHA-256 only, so a dump of the store holds no usable tokens. OOSE
// accepted any token; we accept only these.

export interface Session extends StoredSession {
  token: string;
}

const digest = (token: string) => createHash("sha256").update(token).digest("hex");
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class Sessions {
  constructor(
    private readonly store: SessionStore,
    private readonly users: UserDirectory,
    private readonly lifeMs: number,
  ) {}

  /** A new session for a user whose password was just checked. */
  async open(user: SessionUser, ip: string): Promise<Session> {
    const token = randomBytes(32).toString("base64url");
    const stored: StoredSession = { ip, data: { userCtx: user, createdAt: new Date().toISOString() } };
    await this.store.open(digest(token), stored, this.lifeMs);
    return { token, ...stored };
  }

  /** The live session for a token; Unauthorized when unknown or expired. */
  async get(token: string): Promise<Session> {
    if (!TOKEN_PATTERN.test(token)) throw new Unauthorized("Invalid session token");
    const stored = await this.store.read(digest(token));
    if (!stored) throw new Unauthorized("Session expired or unknown");
    return { token, ...stored };
  }

  /** Extends a session, if its user still exists. */
  async renew(token: string): Promise<Session> {
    const session = await this.get(token);
    const name = session.data.userCtx.name;
    if (!(await this.users.exists(name))) {
      await this.logout(token);
      throw new Unauthorized("The session's user no longer exists");
    }
    await this.store.extend(digest(token), name, this.lifeMs);
    return session;
  }

  async logout(token: string): Promise<void> {
    await this.store.close(digest(token));
  }
}

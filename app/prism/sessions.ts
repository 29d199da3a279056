import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Couch } from "../adapters/couch/index.js";
import { userExists } from "../adapters/couch/users.js";
import { redisCall } from "../adapters/redis/index.js";
import type { ReplicatedWrites } from "../adapters/redis/wait.js";
import { Unauthorized } from "../errors.js";

// Users are CouchDB `_users` accounts, as in OOSE, so they survive an upgrade.
// A login (its password checked against CouchDB's /_session) gets our own
// random token kept in Redis with a TTL. Only its SHA-256 is stored, so a Redis
// dump holds no usable tokens. OOSE accepted any token; we accept only these.
// A login is acknowledged once a replica holds the session (WAIT), so a
// Sentinel failover does not log anyone out. Each user's sessions are listed
// beside them, so removing the user or changing the password ends them all.

export interface Session {
  token: string;
  ip: string;
  data: { userCtx: { name: string; roles: string[] }; createdAt: string };
}

const digest = (token: string) => createHash("sha256").update(token).digest("hex");
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const sessionKey = (prefix: string, id: string) => `${prefix}:session:${id}`;
const userKey = (prefix: string, name: string) => `${prefix}:user-sessions:${name}`;

/** Ends every session of user `name`; answers how many there were. */
export async function endSessionsOf(redis: Redis, prefix: string, name: string): Promise<number> {
  const ids = await redisCall("user sessions", () => redis.smembers(userKey(prefix, name)));
  const sessions = ids.map((id) => sessionKey(prefix, id));
  const [ended] = await redisCall("end sessions", () =>
    Promise.all([sessions.length > 0 ? redis.del(...sessions) : 0, redis.del(userKey(prefix, name))]),
  );
  return ended;
}

export class Sessions {
  constructor(
    private readonly couch: Couch,
    private readonly redis: Redis,
    private readonly writes: ReplicatedWrites,
    private readonly prefix: string,
    private readonly lifeMs: number,
  ) {}

  private key(token: string): string {
    return sessionKey(this.prefix, digest(token));
  }

  /** A new session for a user whose password was just checked. */
  async open(user: Session["data"]["userCtx"], ip: string): Promise<Session> {
    const token = randomBytes(32).toString("base64url");
    const session: Session = { token, ip, data: { userCtx: user, createdAt: new Date().toISOString() } };
    const { token: _omit, ...stored } = session;
    const users = userKey(this.prefix, user.name);
    await this.writes.write("session set", (conn) =>
      conn
        .multi()
        .set(this.key(token), JSON.stringify(stored), "PX", this.lifeMs)
        .sadd(users, digest(token))
        .pexpire(users, this.lifeMs)
        .exec(),
    );
    return session;
  }

  /** The live session for a token; Unauthorized when unknown or expired. */
  async get(token: string): Promise<Session> {
    if (!TOKEN_PATTERN.test(token)) throw new Unauthorized("Invalid session token");
    const raw = await redisCall("session get", () => this.redis.get(this.key(token)));
    if (!raw) throw new Unauthorized("Session expired or unknown");
    return { token, ...(JSON.parse(raw) as Omit<Session, "token">) };
  }

  /** Extends a session, if its user still exists. */
  async renew(token: string): Promise<Session> {
    const session = await this.get(token);
    const name = session.data.userCtx.name;
    if (!(await userExists(this.couch, name))) {
      await this.logout(token);
      throw new Unauthorized("The session's user no longer exists");
    }
    await redisCall("session renew", () =>
      this.redis.multi().pexpire(this.key(token), this.lifeMs).pexpire(userKey(this.prefix, name), this.lifeMs).exec(),
    );
    return session;
  }

  async logout(token: string): Promise<void> {
    await redisCall("session del", () => this.redis.del(this.key(token)));
  }
}

import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Couch } from "../adapters/couch/index.js";
import { redisCall } from "../adapters/redis/index.js";
import type { ReplicatedWrites } from "../adapters/redis/wait.js";
import { BackendUnavailable, InvalidCredentials, Unauthorized } from "../errors.js";

// Users are CouchDB `_users` accounts, as in OOSE, so they survive an upgrade.
// A login checks the password against CouchDB's /_session, then issues our own
// random token kept in Redis with a TTL. Only its SHA-256 is stored, so a Redis
// dump holds no usable tokens. OOSE accepted any token; we accept only these.
// A login is acknowledged once a replica holds the session (WAIT), so a
// Sentinel failover does not log anyone out.

export interface Session {
  token: string;
  ip: string;
  data: { userCtx: { name: string; roles: string[] }; createdAt: string };
}

const digest = (token: string) => createHash("sha256").update(token).digest("hex");
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class Sessions {
  constructor(
    private readonly couch: Couch,
    private readonly redis: Redis,
    private readonly writes: ReplicatedWrites,
    private readonly prefix: string,
    private readonly lifeMs: number,
  ) {}

  private key(token: string): string {
    return `${this.prefix}:session:${digest(token)}`;
  }

  async login(username: string, password: string, ip: string): Promise<Session> {
    let roles: string[] = [];
    try {
      const res = (await this.couch.server.request({
        method: "POST",
        path: "_session",
        body: { name: username, password },
      })) as { ok?: boolean; roles?: string[] };
      if (!res.ok) throw new InvalidCredentials();
      roles = res.roles ?? [];
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (err instanceof InvalidCredentials || status === 401 || status === 403) throw new InvalidCredentials();
      throw new BackendUnavailable("Login failed: CouchDB unavailable", undefined, err);
    }
    const token = randomBytes(32).toString("base64url");
    const session: Session = { token, ip, data: { userCtx: { name: username, roles }, createdAt: new Date().toISOString() } };
    const { token: _omit, ...stored } = session;
    await this.writes.write("session set", (conn) => conn.set(this.key(token), JSON.stringify(stored), "PX", this.lifeMs));
    return session;
  }

  /** The live session for a token; Unauthorized when unknown or expired. */
  async get(token: string): Promise<Session> {
    if (!TOKEN_PATTERN.test(token)) throw new Unauthorized("Invalid session token");
    const raw = await redisCall("session get", () => this.redis.get(this.key(token)));
    if (!raw) throw new Unauthorized("Session expired or unknown");
    return { token, ...(JSON.parse(raw) as Omit<Session, "token">) };
  }

  async renew(token: string): Promise<Session> {
    const session = await this.get(token);
    await redisCall("session renew", () => this.redis.pexpire(this.key(token), this.lifeMs));
    return session;
  }

  async logout(token: string): Promise<void> {
    await redisCall("session del", () => this.redis.del(this.key(token)));
  }
}

import type { Redis } from "ioredis";
import type { SessionStore, StoredSession } from "../../core/ports/sessions.js";
import { redisCall } from "./index.js";
import type { ReplicatedWrites } from "./wait.js";

// Sessions in the shared HA Redis: `<prefix>:session:<id>` (JSON, with a TTL)
// and each user's ids in `<prefix>:user-sessions:<name>` (a SET). Opening one
// is acknowledged once a replica holds it (WAIT), so a Sentinel failover does
// not log anyone out.

export class RedisSessions implements SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Without it (tools that only end sessions), opening one is refused. */
    private readonly writes?: ReplicatedWrites,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:session:${id}`;
  }

  private userKey(name: string): string {
    return `${this.prefix}:user-sessions:${name}`;
  }

  async open(id: string, session: StoredSession, lifeMs: number): Promise<void> {
    if (!this.writes) throw new Error("this session store only reads and ends sessions");
    const users = this.userKey(session.data.userCtx.name);
    await this.writes.write("session set", (conn) =>
      conn
        .multi()
        .set(this.key(id), JSON.stringify(session), "PX", lifeMs)
        .sadd(users, id)
        .pexpire(users, lifeMs)
        .exec(),
    );
  }

  async read(id: string): Promise<StoredSession | undefined> {
    const raw = await redisCall("session get", () => this.redis.get(this.key(id)));
    return raw ? (JSON.parse(raw) as StoredSession) : undefined;
  }

  async extend(id: string, user: string, lifeMs: number): Promise<void> {
    await redisCall("session renew", () =>
      this.redis.multi().pexpire(this.key(id), lifeMs).pexpire(this.userKey(user), lifeMs).exec(),
    );
  }

  async close(id: string): Promise<void> {
    await redisCall("session del", () => this.redis.del(this.key(id)));
  }

  async closeAllOf(user: string): Promise<number> {
    const ids = await redisCall("user sessions", () => this.redis.smembers(this.userKey(user)));
    const sessions = ids.map((id) => this.key(id));
    const [ended] = await redisCall("end sessions", () =>
      Promise.all([sessions.length > 0 ? this.redis.del(...sessions) : 0, this.redis.del(this.userKey(user))]),
    );
    return ended;
  }
}

import type { SessionStore, StoredSession } from "../../core/ports/sessions.js";
import { ExpiringMap } from "./expiring.js";

// Sessions in one process's memory, for tests: the same TTLs and per-user
// lists as the Redis store, on an injectable clock.

export class MemorySessions implements SessionStore {
  private readonly sessions: ExpiringMap<string>;
  private readonly users: ExpiringMap<Set<string>>;

  constructor(now: () => number = Date.now) {
    this.sessions = new ExpiringMap(now);
    this.users = new ExpiringMap(now);
  }

  async open(id: string, session: StoredSession, lifeMs: number): Promise<void> {
    const name = session.data.userCtx.name;
    this.sessions.set(id, JSON.stringify(session), lifeMs);
    this.users.set(name, new Set([...(this.users.get(name) ?? []), id]), lifeMs);
  }

  async read(id: string): Promise<StoredSession | undefined> {
    const raw = this.sessions.get(id);
    return raw ? (JSON.parse(raw) as StoredSession) : undefined;
  }

  async extend(id: string, user: string, lifeMs: number): Promise<void> {
    this.sessions.expire(id, lifeMs);
    this.users.expire(user, lifeMs);
  }

  async close(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  async closeAllOf(user: string): Promise<number> {
    let ended = 0;
    for (const id of this.users.get(user) ?? []) if (this.sessions.delete(id)) ended++;
    this.users.delete(user);
    return ended;
  }
}

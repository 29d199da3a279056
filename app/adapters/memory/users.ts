import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import type { SessionUser } from "../../core/ports/sessions.js";
import type { UserDirectory } from "../../core/ports/users.js";
import { InvalidCredentials } from "../../errors.js";

// Users in one process's memory, for tests: passwords kept as scrypt hashes,
// wrong ones refused as CouchDB's `_session` refuses them.

interface Account {
  roles: string[];
  salt: Buffer;
  hash: Buffer;
}

const hashOf = (password: string, salt: Buffer) => scryptSync(password, salt, 32);

export class MemoryUsers implements UserDirectory {
  private readonly accounts = new Map<string, Account>();

  async login(name: string, password: string): Promise<SessionUser> {
    const a = this.accounts.get(name);
    if (!a || !timingSafeEqual(hashOf(password, a.salt), a.hash)) throw new InvalidCredentials();
    return { name, roles: [...a.roles] };
  }

  async exists(name: string): Promise<boolean> {
    return this.accounts.has(name);
  }

  async add(name: string, password: string, roles: string[] = []): Promise<boolean> {
    if (this.accounts.has(name)) return false;
    const salt = randomBytes(16);
    this.accounts.set(name, { roles: [...roles], salt, hash: hashOf(password, salt) });
    return true;
  }

  async setPassword(name: string, password: string): Promise<boolean> {
    const a = this.accounts.get(name);
    if (!a) return false;
    a.hash = hashOf(password, a.salt);
    return true;
  }

  async remove(name: string): Promise<boolean> {
    return this.accounts.delete(name);
  }

  async list(): Promise<SessionUser[]> {
    return [...this.accounts].map(([name, a]) => ({ name, roles: [...a.roles] }));
  }
}

import { createHash } from "node:crypto";
import type { Config } from "../config.js";
import type { AttemptCounters } from "../core/ports/attempts.js";
import { TooManyRequests } from "../errors.js";

// Failed logins counted per client address and per user name, shared by every
// prism (and worker). Past either limit a login is refused with 429 before
// CouchDB is asked, until the window ends: password guessing is slowed, and
// CouchDB's costly hashing is not ours to hand out. An attempt is counted
// before its password is checked, so a burst of parallel guesses cannot all
// pass the limit; a login that succeeds (or that CouchDB could not check)
// gives its count back.

export class LoginLimit {
  constructor(
    private readonly counters: AttemptCounters,
    private readonly prefix: string,
    private readonly settings: Config["login"],
  ) {}

  private keys(ip: string, name: string): string[] {
    const user = createHash("sha256").update(name).digest("hex");
    return [`${this.prefix}:login-failed:address:${ip}`, `${this.prefix}:login-failed:user:${user}`];
  }

  /**
   * Counts an attempt; TooManyRequests (with the seconds to wait) when this
   * address or user name is past its limit. Answers the function that gives
   * the count back, for an attempt that did not fail on its password.
   */
  async attempt(ip: string, name: string): Promise<() => Promise<void>> {
    const keys = this.keys(ip, name);
    const { window, perAddress, perUser } = this.settings;
    const waitMs = await this.counters.attempt(keys, window, [perAddress, perUser]);
    if (waitMs > 0) {
      throw new TooManyRequests("Too many failed logins; try again later", { retryAfter: Math.ceil(waitMs / 1000) });
    }
    return () => this.counters.giveBack(keys);
  }
}

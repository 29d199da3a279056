import type { HashLocks } from "./hash-locks.js";
import { copiesBlocked } from "./owners.js";
import type { Owners } from "./ports/owners.js";

// What the jobs that make copies (heal, repair, hot content, clonetool) pass
// before each copy: a hash taken down is never copied back. The check and the
// copy run under the hash's lock, the one a takedown holds while it removes,
// so a copy in flight as a takedown begins ends before the takedown reads the
// copies, and a copy asked for afterwards sees the mark.

export class CopyGate {
  constructor(
    private readonly owners: Pick<Owners, "of">,
    /** Without Redis (a tool run with CouchDB only) there is no lock: the mark alone is checked. */
    private readonly locks?: HashLocks,
  ) {}

  /** `work`'s result, or none when the hash is taken down or its lock is held (a removal runs: later). */
  async permit<T>(hash: string, work: () => Promise<T[]>): Promise<T[]> {
    const checked = async () => (copiesBlocked(await this.owners.of(hash)) ? [] : work());
    if (!this.locks) return checked();
    return (await this.locks.with(hash, checked))?.value ?? [];
  }
}

import {
  decodeCursor,
  encodeCursor,
  type HashOwners,
  newestFirst,
  type OwnedFile,
  type OwnedPage,
} from "../../core/owners.js";
import type { Owners } from "../../core/ports/owners.js";

// Owner records in one process's memory, with the CouchDB adapter's order:
// an owner's files newest first, a record kept with its first upload time.

export class MemoryOwners implements Owners {
  /** hash → owner → record. */
  private readonly files = new Map<string, Map<string, OwnedFile>>();
  private readonly origins = new Set<string>();
  private readonly takedowns = new Map<string, number>();

  async record(file: OwnedFile, origin: boolean): Promise<void> {
    const owners = this.files.get(file.hash) ?? new Map<string, OwnedFile>();
    if (!owners.has(file.owner)) owners.set(file.owner, { ...file });
    this.files.set(file.hash, owners);
    if (origin) this.origins.add(file.hash);
  }

  async list(owner: string, limit: number, cursor?: string): Promise<OwnedPage> {
    const from = cursor === undefined ? undefined : decodeCursor(cursor);
    const all = [...this.files.values()]
      .flatMap((owners) => {
        const f = owners.get(owner);
        return f ? [{ ...f }] : [];
      })
      .sort(newestFirst)
      .filter((f) => !from || newestFirst(from, f) < 0);
    const files = all.slice(0, limit);
    const last = files.at(-1);
    return all.length > limit && last ? { files, next: encodeCursor(last) } : { files };
  }

  async of(hash: string): Promise<HashOwners> {
    const owners = [...(this.files.get(hash)?.values() ?? [])].map((f) => ({ ...f }));
    const takedownAt = this.takedowns.get(hash);
    return { owners, origin: this.origins.has(hash), ...(takedownAt === undefined ? {} : { takedownAt }) };
  }

  async release(hash: string, owners: string[], all = false): Promise<void> {
    const held = this.files.get(hash);
    for (const o of owners) held?.delete(o);
    if (all) {
      this.files.delete(hash);
      this.origins.delete(hash);
    } else if (held?.size === 0) this.files.delete(hash);
  }

  async markTakedown(hash: string, at: number): Promise<void> {
    this.takedowns.set(hash, at);
  }
}

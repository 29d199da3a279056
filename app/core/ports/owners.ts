import type { HashOwners, OwnedFile, OwnedPage } from "../owners.js";

// The owners of content (core/owners.ts), as uploads record them and the
// list and delete routes read them.

export interface Owners {
  /**
   * Records that `file.owner` uploaded `file.hash` (group commit); resolves once durable. An existing
   * record keeps its first upload time. `origin`: this upload brought the bytes into the cluster.
   */
  record(file: OwnedFile, origin: boolean): Promise<void>;
  /** One owner's files, newest first, `limit` at most, after `cursor` (from a previous page's `next`). */
  list(owner: string, limit: number, cursor?: string): Promise<OwnedPage>;
  /** Everything recorded of `hash`. */
  of(hash: string): Promise<HashOwners>;
  /** Drops these owners' records of `hash`; `all` drops every record of it, origin included (a takedown). */
  release(hash: string, owners: string[], all?: boolean): Promise<void>;
  /** Marks `hash` taken down at `at` (durable once it resolves). */
  markTakedown(hash: string, at: number): Promise<void>;
}

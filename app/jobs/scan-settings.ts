import type { Blobs } from "../core/ports/blobs.js";
import type { CopyId, Inventory } from "../core/ports/inventory.js";

// What an inventory scan is told and what it counts (scan.ts runs it,
// scan-prune.ts is its second pass).

export interface ScanCounts {
  /** Files found that are content (layout path, valid hash). */
  files: number;
  bytes: number;
  /** Docs that already matched their file. */
  valid: number;
  created: number;
  updated: number;
  /** Docs whose file is gone (pass 2). */
  removed: number;
  /** Files outside the layout (bad hash or name) and docs naming no possible file. */
  invalid: number;
  /** A second file for a hash already seen (another extension); left alone. */
  duplicates: number;
  /** Extensionless links older OOSE versions made beside each file; left alone. */
  links: number;
  /** Docs pass 2 looked at. */
  checked: number;
  errors: number;
}

export interface ScanSettings {
  inventory: Pick<Inventory, "fetch" | "revisions" | "bulkWrite" | "copyIdPages">;
  /** The store's content, as the store finds it (the same rules pick a file per hash). */
  blobs: Pick<Blobs, "find">;
  /** The store's data root: the tree under its `content` folder is walked. */
  dataRoot: string;
  store: string;
  prism: string;
  /** Directory reads and existence checks in flight, and CouchDB batches in flight (at most 4). */
  concurrency: number;
  batchSize: number;
  /** Pause after each batch (ms). */
  throttle: number;
  /** Threads walking the tree (default: one per core, at most 4). */
  walkers?: number;
  dryRun: boolean;
  /** Remove docs even when most of the store's files seem to be gone (an unmounted disk looks like that). */
  force: boolean;
  /** Largest share of the store's docs pass 2 removes without `force`. */
  maxRemoveShare?: number;
  /** Docs to remove that pass 2 holds before it judges their share (default: the batch size, at least 10,000). */
  holdBack?: number;
  /** Tells prisms that these hashes' copies changed. */
  announce?: (hashes: string[]) => Promise<void>;
  progress?: (phase: "walk" | "prune", done: number, counts: ScanCounts) => void;
  note?: (message: string) => void;
  now?: () => number;
}

export const emptyCounts = (): ScanCounts => ({
  files: 0,
  bytes: 0,
  valid: 0,
  created: 0,
  updated: 0,
  removed: 0,
  invalid: 0,
  duplicates: 0,
  links: 0,
  checked: 0,
  errors: 0,
});

/** A doc pass 2 found no file for, with its revision then. */
export type Judged = CopyId & { rev: string };

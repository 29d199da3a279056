import { stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { copyDoc, type InventoryDoc, inventoryKey } from "../core/inventory.js";
import { fromRelativePath } from "../core/layout.js";
import { eachLimit } from "../core/limit.js";
import type { Blobs } from "../core/ports/blobs.js";
import type { CopyId, CopyWrite, Inventory, StoredCopy } from "../core/ports/inventory.js";
import { SeenHashes } from "./scan-seen.js";
import { type WalkEntry, walkTree } from "./scan-walk.js";

// `oose inventory scan`: reconciles one store's inventory with its disk
// (spec §9.1, without its flaws). Pass 1 streams the content tree (never a
// whole listing in memory) and, a batch at a time, creates the docs of files
// the inventory does not know and corrects size, type and path where they
// drifted. Pass 2 pages through the ids of the store's docs and removes those
// whose file is gone; hashes pass 1 saw (kept in a Bloom filter, not a list)
// need no second look at the disk. Safe to re-run: a second run over an
// unchanged disk writes nothing.

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

export interface ScanReport {
  counts: ScanCounts;
  dirs: number;
  walkMs: number;
  pruneMs: number;
  ms: number;
  /** Set when pass 2 refused to remove (see `force`). */
  refused?: string;
  samples: { invalid: string[]; errors: string[] };
}

const SAMPLES = 10;

/**
 * The seen-hash filter's false-positive rate: the share of removed files whose
 * docs survive a run (the next run, with new seeds, removes them). At 0.001,
 * 10 of 10,000 files removed from a 1M-file store kept their docs; at 1e-6 the
 * filter takes 3.6 MB per million hashes instead of 1.8.
 */
export const SEEN_FALSE_POSITIVES = 1e-6;

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
type Judged = CopyId & { rev: string };

interface Found {
  id: string;
  hash: string;
  ext: string;
  rel: string;
  size: number;
}

/** The doc a file should have; `current` keeps its creation time and, if the bytes can be the same, its verification. */
export function desiredDoc(f: Found, prism: string, store: string, now: number, current?: StoredCopy): InventoryDoc {
  const same = current && current.size === f.size && current.mimeExtension === f.ext;
  const file = { hash: f.hash, ext: f.ext, size: f.size, relativePath: f.rel };
  return {
    ...copyDoc(file, prism, store, current?.createdAt ?? new Date(now).toISOString()),
    ...(same && current.verifiedAt != null ? { verifiedAt: current.verifiedAt } : {}),
  };
}

const DOC_FIELDS = ["hash", "prism", "store", "size", "mimeType", "mimeExtension", "relativePath"] as const;

export const docMatches = (doc: StoredCopy, want: InventoryDoc) => DOC_FIELDS.every((k) => doc[k] === want[k]);

export class InventoryScan {
  readonly counts = emptyCounts();
  private readonly samples = { invalid: [] as string[], errors: [] as string[] };
  private readonly blobs: Pick<Blobs, "find">;
  private readonly now: () => number;
  /** Hashes pass 1 found on disk; pass 2 checks the disk only for the others. */
  private readonly seen = new SeenHashes(1_000_000, SEEN_FALSE_POSITIVES);

  constructor(private readonly s: ScanSettings) {
    this.blobs = s.blobs;
    this.now = s.now ?? Date.now;
  }

  private sample(kind: "invalid" | "errors", what: string): void {
    if (this.samples[kind].length < SAMPLES) this.samples[kind].push(what);
  }

  async run(): Promise<ScanReport> {
    const started = performance.now();
    const root = path.resolve(this.s.dataRoot, "content");
    const st = await stat(root).catch(() => undefined);
    if (!st?.isDirectory()) throw new Error(`${root} is not a directory: is the store's disk mounted?`);
    const walk = { dirs: 0 };
    let entries = 0;
    const inflight = new Set<Promise<void>>();
    const writers = Math.max(1, Math.min(4, this.s.concurrency));
    const threads = this.s.walkers ?? Math.min(4, os.availableParallelism());
    for await (const batch of walkTree(root, { batchSize: this.s.batchSize, threads }, walk)) {
      const found = this.classify(batch);
      entries += batch.length;
      if (found.length > 0) {
        const job = this.reconcile(found).finally(() => inflight.delete(job));
        inflight.add(job);
        if (inflight.size >= writers) await Promise.race(inflight);
      }
      this.s.progress?.("walk", entries, this.counts);
      if (this.s.throttle > 0) await sleep(this.s.throttle);
    }
    await Promise.all(inflight);
    const walkMs = performance.now() - started;
    const refused = await this.prune();
    const ms = performance.now() - started;
    return {
      counts: this.counts,
      dirs: walk.dirs,
      walkMs,
      pruneMs: ms - walkMs,
      ms,
      refused,
      samples: this.samples,
    };
  }

  /** Entries → content files; everything else is counted. */
  private classify(entries: WalkEntry[]): Found[] {
    const out: Found[] = [];
    for (const e of entries) {
      if (e.kind === "error") {
        this.counts.errors++;
        this.sample("errors", `${e.rel || "."}: ${e.error}`);
        continue;
      }
      if (e.kind === "link" || (e.kind === "file" && /^(?:[0-9a-f]{2}\/)+[0-9a-f]{2}$/.test(e.rel))) {
        this.counts.links++;
        continue;
      }
      const parsed = e.kind === "file" ? fromRelativePath(e.rel) : undefined;
      if (e.kind !== "file" || !parsed) {
        this.counts.invalid++;
        this.sample("invalid", e.rel);
        continue;
      }
      this.counts.files++;
      this.counts.bytes += e.size;
      this.seen.add(parsed.hash);
      out.push({
        id: inventoryKey(parsed.hash, this.s.prism, this.s.store),
        hash: parsed.hash,
        ext: parsed.ext,
        rel: e.rel,
        size: e.size,
      });
    }
    return out;
  }

  /** The held-back docs whose file is still not on disk. */
  private async stillAbsent(docs: Judged[]): Promise<Judged[]> {
    const present = new Set<string>();
    await eachLimit(docs, this.s.concurrency, async (d) => {
      try {
        if (await this.blobs.find(d.hash)) present.add(d.id);
      } catch (err) {
        // A hash no layout path can hold has no file to come back; a folder that cannot be read keeps its docs.
        if ((err as { code?: string }).code !== "INVALID_HASH") present.add(d.id);
      }
    });
    return docs.filter((d) => !present.has(d.id));
  }

  private async canonicalExt(f: Found): Promise<string | undefined> {
    return (await this.blobs.find(f.hash).catch(() => undefined))?.ext;
  }

  /** One batch: look the docs up in one request, write what is missing or wrong in one more. */
  private async reconcile(found: Found[], retry = true): Promise<void> {
    try {
      const { inventory, prism, store, dryRun } = this.s;
      const current = await inventory.fetch([...new Set(found.map((f) => f.id))]);
      const ids = new Map<string, number>();
      for (const f of found) ids.set(f.id, (ids.get(f.id) ?? 0) + 1);
      const writes: { doc: CopyWrite; found: Found; create: boolean }[] = [];
      for (const f of found) {
        const doc = current.get(f.id);
        // Two files for one hash (another extension): the one the store serves, as BlobStore.find picks it, counts.
        if ((ids.get(f.id)! > 1 || (doc && doc.mimeExtension !== f.ext)) && (await this.canonicalExt(f)) !== f.ext) {
          this.counts.duplicates++;
          this.counts.files--;
          this.counts.bytes -= f.size;
          this.sample("invalid", `${f.rel} (another file for the same hash)`);
          continue;
        }
        const want = desiredDoc(f, prism, store, this.now(), doc);
        if (doc && docMatches(doc, want)) this.counts.valid++;
        else
          writes.push({
            doc: doc ? { ...want, _id: f.id, _rev: doc._rev } : { ...want, _id: f.id },
            found: f,
            create: !doc,
          });
      }
      if (dryRun) {
        for (const w of writes) this.counts[w.create ? "created" : "updated"]++;
        return;
      }
      const outcomes = await inventory.bulkWrite(writes.map((w) => w.doc));
      const conflicted: Found[] = [];
      const changed: string[] = [];
      outcomes.forEach((o, i) => {
        const w = writes[i]!;
        if (o === "ok") {
          this.counts[w.create ? "created" : "updated"]++;
          changed.push(w.found.hash);
        } else if (o === "conflict" && retry) conflicted.push(w.found);
        else {
          this.counts.errors++;
          this.sample("errors", `${w.found.id}: ${o === "conflict" ? "conflict" : o.error}`);
        }
      });
      if (changed.length > 0) await this.s.announce?.(changed);
      // Someone (the store itself, usually) wrote the doc meanwhile: look again, once.
      if (conflicted.length > 0) await this.reconcile(conflicted, false);
    } catch (err) {
      this.counts.errors += found.length;
      this.sample("errors", `batch of ${found.length} from ${found[0]?.rel}: ${(err as Error).message}`);
    }
  }

  /**
   * Pass 2: docs whose file is gone are removed, a page at a time. A doc whose
   * hash pass 1 did not see is looked up on disk (it may have arrived since);
   * one that pass 1 saw is not (a Bloom filter's rare false positive leaves a
   * removed file's doc for the next run, which draws new seeds). Removals are
   * held back (up to a bounded number) until it is clear that most of the
   * store's files are not simply missing; beyond `maxRemoveShare` it refuses.
   * Before they go, the disk is looked at again, and only docs still at the
   * revision they had when judged are removed.
   * The share is taken of all the store's docs known so far: those checked,
   * or, while fewer, those pass 1 found files for plus the missing ones found.
   * Pages come in id (hash) order, so missing files can crowd the first pages
   * (a lost top folder, say) without being most of the store.
   */
  private async prune(): Promise<string | undefined> {
    const { inventory, prism, store, dryRun, force, batchSize } = this.s;
    const maxShare = this.s.maxRemoveShare ?? 0.5;
    const hold = this.s.holdBack ?? Math.max(batchSize, 10_000);
    let pending: Judged[] = [];
    let deleted = 0;
    let refused: string | undefined;
    const { valid, updated, created } = this.counts;
    const missing = () => pending.length + deleted;
    const known = () => Math.max(this.counts.checked, valid + updated + created + missing());
    const tooMany = () => !force && this.counts.checked > 0 && missing() > Math.max(10, maxShare * known());
    const flush = async () => {
      for (let i = 0; i < pending.length; i += batchSize) {
        const chunk = pending.slice(i, i + batchSize);
        if (dryRun) {
          this.counts.removed += chunk.length;
          continue;
        }
        // Held back a while: a file written meanwhile (an upload, a repair) keeps its doc, and so
        // does a doc rewritten since it was judged. Only a doc still at that revision goes.
        const absent = await this.stillAbsent(chunk);
        const revs = await inventory.revisions(absent.map((d) => d.id));
        const doomed = absent.filter((d) => revs.get(d.id) === d.rev);
        const outcomes = await inventory.bulkWrite(
          doomed.map((d) => ({ _id: d.id, _rev: d.rev, _deleted: true as const })),
        );
        const gone: string[] = [];
        outcomes.forEach((o, j) => {
          // A conflict: the doc changed since its revision was read (a new upload); it stays.
          if (o === "ok") {
            this.counts.removed++;
            deleted++;
            gone.push(doomed[j]!.hash);
          } else if (o !== "conflict") {
            this.counts.errors++;
            this.sample("errors", `remove ${doomed[j]!.id}: ${o.error}`);
          }
        });
        if (gone.length > 0) await this.s.announce?.(gone);
      }
      pending = [];
    };
    const pages = inventory.copyIdPages("store", store, {
      pageSize: batchSize,
      note: this.s.note,
    });
    for await (const ids of pages) {
      const mine = ids.filter((d) => d.prism === prism);
      const missing: CopyId[] = [];
      await eachLimit(mine, this.s.concurrency, async (doc) => {
        this.counts.checked++;
        // Found on disk by pass 1: no need to look again.
        if (this.seen.has(doc.hash)) return;
        try {
          if (await this.blobs.find(doc.hash)) return;
        } catch (err) {
          // A hash no layout path can hold, or a folder that cannot be read.
          if ((err as { code?: string }).code === "INVALID_HASH") {
            this.counts.invalid++;
            this.sample("invalid", `doc ${doc.id}: invalid hash`);
            missing.push(doc);
          } else {
            this.counts.errors++;
            this.sample("errors", `check ${doc.id}: ${(err as Error).message}`);
          }
          return;
        }
        missing.push(doc);
      });
      // The revision each doc had when judged: one rewritten before the flush is not ours to remove.
      const revs = dryRun || missing.length === 0 ? undefined : await inventory.revisions(missing.map((d) => d.id));
      for (const d of missing) {
        const rev = revs ? revs.get(d.id) : "";
        if (rev !== undefined) pending.push({ ...d, rev });
      }
      this.s.progress?.("prune", this.counts.checked, this.counts);
      if (pending.length >= hold) {
        if (tooMany()) break;
        await flush();
      }
      if (this.s.throttle > 0) await sleep(this.s.throttle);
    }
    if (tooMany()) {
      refused =
        `${pending.length + deleted} of ${this.counts.checked} docs checked name missing files; ` +
        `more than ${Math.round(maxShare * 100)}% looks like a missing disk, not missing files: ` +
        "nothing more removed (check the mount, then re-run with --force)";
      pending = [];
    }
    await flush();
    return refused;
  }
}

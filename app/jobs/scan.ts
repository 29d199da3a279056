import { stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { copyDoc, type InventoryDoc, inventoryKey } from "../core/inventory.js";
import { fromRelativePath } from "../core/layout.js";
import type { Blobs } from "../core/ports/blobs.js";
import type { CopyWrite, StoredCopy } from "../core/ports/inventory.js";
import { prunePass } from "./scan-prune.js";
import { SeenHashes } from "./scan-seen.js";
import { emptyCounts, type ScanCounts, type ScanSettings } from "./scan-settings.js";
import { type WalkEntry, walkTree } from "./scan-walk.js";

// `oose inventory scan`: reconciles one store's inventory with its disk
// (spec §9.1, without its flaws). Pass 1 streams the content tree (never a
// whole listing in memory) and, a batch at a time, creates the docs of files
// the inventory does not know and corrects size, type and path where they
// drifted. Pass 2 pages through the ids of the store's docs and removes those
// whose file is gone; hashes pass 1 saw (kept in a Bloom filter, not a list)
// need no second look at the disk. Safe to re-run: a second run over an
// unchanged disk writes nothing.

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
    const refused = await prunePass({
      ...{ s: this.s, counts: this.counts, seen: this.seen },
      sample: (kind, what) => this.sample(kind, what),
    });
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
}

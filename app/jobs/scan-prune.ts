import { setTimeout as sleep } from "node:timers/promises";
import { eachLimit } from "../core/limit.js";
import type { CopyId } from "../core/ports/inventory.js";
import type { Judged, ScanCounts, ScanSettings } from "./scan-settings.js";

// The scan's second pass: inventory docs of this store whose file is gone.

export interface PruneParts {
  s: ScanSettings;
  counts: ScanCounts;
  /** Hashes pass 1 found on disk. */
  seen: { has(hash: string): boolean };
  sample(kind: "invalid" | "errors", what: string): void;
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
export async function prunePass(p: PruneParts): Promise<string | undefined> {
  const { inventory, prism, store, dryRun, force, batchSize } = p.s;
  const maxShare = p.s.maxRemoveShare ?? 0.5;
  const hold = p.s.holdBack ?? Math.max(batchSize, 10_000);
  let pending: Judged[] = [];
  let deleted = 0;
  let refused: string | undefined;
  const { valid, updated, created } = p.counts;
  const missing = () => pending.length + deleted;
  const known = () => Math.max(p.counts.checked, valid + updated + created + missing());
  const tooMany = () => !force && p.counts.checked > 0 && missing() > Math.max(10, maxShare * known());
  const flush = async () => {
    for (let i = 0; i < pending.length; i += batchSize) {
      const chunk = pending.slice(i, i + batchSize);
      if (dryRun) {
        p.counts.removed += chunk.length;
        continue;
      }
      // Held back a while: a file written meanwhile (an upload, a repair) keeps its doc, and so
      // does a doc rewritten since it was judged. Only a doc still at that revision goes.
      const absent = await stillAbsent(p.s, chunk);
      const revs = await inventory.revisions(absent.map((d) => d.id));
      const doomed = absent.filter((d) => revs.get(d.id) === d.rev);
      const outcomes = await inventory.bulkWrite(
        doomed.map((d) => ({ _id: d.id, _rev: d.rev, _deleted: true as const })),
      );
      const gone: string[] = [];
      outcomes.forEach((o, j) => {
        // A conflict: the doc changed since its revision was read (a new upload); it stays.
        if (o === "ok") {
          p.counts.removed++;
          deleted++;
          gone.push(doomed[j]!.hash);
        } else if (o !== "conflict") {
          p.counts.errors++;
          p.sample("errors", `remove ${doomed[j]!.id}: ${o.error}`);
        }
      });
      if (gone.length > 0) await p.s.announce?.(gone);
    }
    pending = [];
  };
  const pages = inventory.copyIdPages("store", store, {
    pageSize: batchSize,
    note: p.s.note,
  });
  for await (const ids of pages) {
    const mine = ids.filter((d) => d.prism === prism);
    const missing: CopyId[] = [];
    await eachLimit(mine, p.s.concurrency, async (doc) => {
      p.counts.checked++;
      // Found on disk by pass 1: no need to look again.
      if (p.seen.has(doc.hash)) return;
      try {
        if (await p.s.blobs.find(doc.hash)) return;
      } catch (err) {
        // A hash no layout path can hold, or a folder that cannot be read.
        if ((err as { code?: string }).code === "INVALID_HASH") {
          p.counts.invalid++;
          p.sample("invalid", `doc ${doc.id}: invalid hash`);
          missing.push(doc);
        } else {
          p.counts.errors++;
          p.sample("errors", `check ${doc.id}: ${(err as Error).message}`);
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
    p.s.progress?.("prune", p.counts.checked, p.counts);
    if (pending.length >= hold) {
      if (tooMany()) break;
      await flush();
    }
    if (p.s.throttle > 0) await sleep(p.s.throttle);
  }
  if (tooMany()) {
    refused =
      `${pending.length + deleted} of ${p.counts.checked} docs checked name missing files; ` +
      `more than ${Math.round(maxShare * 100)}% looks like a missing disk, not missing files: ` +
      "nothing more removed (check the mount, then re-run with --force)";
    pending = [];
  }
  await flush();
  return refused;
}

async function stillAbsent(s: ScanSettings, docs: Judged[]): Promise<Judged[]> {
  const present = new Set<string>();
  await eachLimit(docs, s.concurrency, async (d) => {
    try {
      if (await s.blobs.find(d.hash)) present.add(d.id);
    } catch (err) {
      // A hash no layout path can hold has no file to come back; a folder that cannot be read keeps its docs.
      if ((err as { code?: string }).code !== "INVALID_HASH") present.add(d.id);
    }
  });
  return docs.filter((d) => !present.has(d.id));
}

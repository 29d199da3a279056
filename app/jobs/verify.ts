import { setTimeout as sleep } from "node:timers/promises";
import { eachLimit } from "../core/limit.js";
import type { LocalCopies } from "../core/ports/blobs.js";
import type { Inventory, StoredCopy } from "../core/ports/inventory.js";
import { ContentNotFound } from "../errors.js";

// `oose inventory verify`: re-hashes one store's copies whose last
// verification is older than verifyExpiration (all of them with force), with
// the store's own verify (spec §9.4): a corrupt copy is deleted with its doc,
// a doc whose file is gone is removed, a good copy gets verifiedAt = now.
// Docs of missing files are held back until it is clear that most of the
// store's files are not simply missing: an unmounted disk must not empty the
// inventory (beyond `maxMissingShare` nothing more is removed without
// `forceMissing`). A dry run hashes the same files and changes nothing.

export interface VerifyCounts {
  /** Docs of this store looked at. */
  checked: number;
  /** Verified within verifyExpiration: not hashed again. */
  fresh: number;
  ok: number;
  corrupt: number;
  missing: number;
  errors: number;
  /** Bytes hashed. */
  bytes: number;
}

export interface VerifySettings {
  inventory: Pick<Inventory, "copyPages">;
  content: LocalCopies;
  store: string;
  prism: string;
  /** verifyExpiration (ms). */
  expiration: number;
  force: boolean;
  /** Remove docs of missing files even when most of the store's files look gone. */
  forceMissing: boolean;
  /** Largest share of the docs looked up on disk that may name missing files (default 0.5). */
  maxMissingShare?: number;
  /** Docs of missing files held back before the share is judged (default max(batchSize, 10,000)). */
  holdBack?: number;
  dryRun: boolean;
  concurrency: number;
  batchSize: number;
  throttle: number;
  progress?: (done: number, counts: VerifyCounts) => void;
  note?: (message: string) => void;
  now?: () => number;
}

export interface VerifyReport {
  counts: VerifyCounts;
  corrupt: { hash: string; actual: string | null }[];
  missing: string[];
  errors: string[];
  ms: number;
  /** Set when docs of missing files were kept (see `forceMissing`). */
  refused?: string;
}

const LISTED = 1000;

export const isDue = (doc: Pick<StoredCopy, "verifiedAt">, now: number, expiration: number, force: boolean) =>
  force || !doc.verifiedAt || now - doc.verifiedAt >= expiration;

export async function verifyStore(s: VerifySettings): Promise<VerifyReport> {
  const started = performance.now();
  const now = s.now ?? Date.now;
  const counts: VerifyCounts = { checked: 0, fresh: 0, ok: 0, corrupt: 0, missing: 0, errors: 0, bytes: 0 };
  const report: VerifyReport = { counts, corrupt: [], missing: [], errors: [], ms: 0 };
  const maxShare = s.maxMissingShare ?? 0.5;
  const hold = s.holdBack ?? Math.max(s.batchSize, 10_000);
  /** Docs whose file was not found, not removed yet. */
  let held: StoredCopy[] = [];

  const missing = (doc: StoredCopy) => {
    counts.missing++;
    if (report.missing.length < LISTED) report.missing.push(doc.hash);
    held.push(doc);
  };
  const hashed = (doc: StoredCopy, actual: string | null, good: boolean, bytes: number) => {
    counts.bytes += bytes;
    if (good) counts.ok++;
    else {
      counts.corrupt++;
      if (report.corrupt.length < LISTED) report.corrupt.push({ hash: doc.hash, actual });
    }
  };
  const failed = (doc: StoredCopy, err: unknown) => {
    counts.errors++;
    if (report.errors.length < LISTED) report.errors.push(`${doc.hash}: ${(err as Error).message}`);
  };
  const verify = async (doc: StoredCopy) => {
    const result = await s.content.verify(doc.hash, s.force, doc);
    hashed(doc, result.actualHash, result.status === "ok", result.verifySkipped ? 0 : doc.size);
  };
  // The share is of the docs looked up on disk (fresh ones are not).
  const tooMany = () =>
    !s.forceMissing && counts.missing > Math.max(10, maxShare * (counts.ok + counts.corrupt + counts.missing));

  const check = async (doc: StoredCopy): Promise<void> => {
    counts.checked++;
    if (!isDue(doc, now(), s.expiration, s.force)) {
      counts.fresh++;
      return;
    }
    try {
      const blob = await s.content.blobs.find(doc.hash);
      if (!blob) return missing(doc);
      if (!s.dryRun) return await verify(doc);
      const sum = await s.content.blobs.digest(blob);
      if (!sum) return missing(doc);
      hashed(doc, sum.digest, sum.digest === doc.hash, sum.size);
    } catch (err) {
      // Gone between the look and the verify, which has dropped its doc already.
      if (err instanceof ContentNotFound) counts.missing++;
      else failed(doc, err);
    }
  };

  /** Removes the held docs: the store's verify looks again under the hash's lock, so a file that arrived stays. */
  const flush = async () => {
    const docs = held;
    held = [];
    if (s.dryRun) return;
    await eachLimit(docs, s.concurrency, async (doc) => {
      try {
        await verify(doc);
        counts.missing--;
        report.missing = report.missing.filter((h) => h !== doc.hash);
      } catch (err) {
        if (!(err instanceof ContentNotFound)) failed(doc, err);
      }
    });
  };

  const pages = s.inventory.copyPages("store", s.store, { pageSize: s.batchSize, note: s.note });
  for await (const docs of pages) {
    await eachLimit(
      docs.filter((d) => d.prism === s.prism),
      s.concurrency,
      check,
    );
    s.progress?.(counts.checked, counts);
    if (held.length >= hold) {
      if (tooMany()) break;
      await flush();
    }
    if (s.throttle > 0) await sleep(s.throttle);
  }
  if (tooMany()) {
    report.refused =
      `${counts.missing} of the copies looked for are missing from disk; more than ${Math.round(maxShare * 100)}% ` +
      `looks like a missing disk, not missing files: the docs of ${held.length} are kept ` +
      "(check the mount, then re-run with --force-missing)";
  } else await flush();
  report.ms = performance.now() - started;
  return report;
}

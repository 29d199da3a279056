import { setTimeout as sleep } from "node:timers/promises";
import type { Couch } from "../adapters/couch/index.js";
import { copyPages, type StoredCopy } from "../adapters/couch/pages.js";
import { ContentNotFound } from "../errors.js";
import type { StoreContent } from "../store/content.js";
import { eachLimit } from "../core/limit.js";

// `oose inventory verify`: re-hashes one store's copies whose last
// verification is older than verifyExpiration (all of them with force), with
// the store's own verify (spec §9.4): a corrupt copy is deleted with its doc,
// a doc whose file is gone is removed, a good copy gets verifiedAt = now.
// A dry run hashes the same files and changes nothing.

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
  couch: Couch;
  content: StoreContent;
  store: string;
  prism: string;
  /** verifyExpiration (ms). */
  expiration: number;
  force: boolean;
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
}

const LISTED = 1000;

export const isDue = (doc: Pick<StoredCopy, "verifiedAt">, now: number, expiration: number, force: boolean) =>
  force || !doc.verifiedAt || now - doc.verifiedAt >= expiration;

export async function verifyStore(s: VerifySettings): Promise<VerifyReport> {
  const started = performance.now();
  const now = s.now ?? Date.now;
  const counts: VerifyCounts = { checked: 0, fresh: 0, ok: 0, corrupt: 0, missing: 0, errors: 0, bytes: 0 };
  const report: VerifyReport = { counts, corrupt: [], missing: [], errors: [], ms: 0 };

  const check = async (doc: StoredCopy): Promise<void> => {
    counts.checked++;
    if (!isDue(doc, now(), s.expiration, s.force)) {
      counts.fresh++;
      return;
    }
    try {
      if (s.dryRun) {
        const blob = await s.content.blobs.find(doc.hash);
        const sum = blob && (await s.content.blobs.digest(blob));
        if (!sum) {
          counts.missing++;
          if (report.missing.length < LISTED) report.missing.push(doc.hash);
          return;
        }
        counts.bytes += sum.size;
        if (sum.digest === doc.hash) counts.ok++;
        else {
          counts.corrupt++;
          if (report.corrupt.length < LISTED) report.corrupt.push({ hash: doc.hash, actual: sum.digest });
        }
        return;
      }
      const result = await s.content.verify(doc.hash, s.force, doc);
      if (!result.verifySkipped) counts.bytes += doc.size;
      if (result.status === "ok") counts.ok++;
      else {
        counts.corrupt++;
        if (report.corrupt.length < LISTED) report.corrupt.push({ hash: doc.hash, actual: result.actualHash });
      }
    } catch (err) {
      if (err instanceof ContentNotFound) {
        counts.missing++;
        if (report.missing.length < LISTED) report.missing.push(doc.hash);
        return;
      }
      counts.errors++;
      if (report.errors.length < LISTED) report.errors.push(`${doc.hash}: ${(err as Error).message}`);
    }
  };

  const pages = copyPages(s.couch, "store", s.store, { pageSize: s.batchSize, note: s.note });
  for await (const docs of pages) {
    await eachLimit(
      docs.filter((d) => d.prism === s.prism),
      s.concurrency,
      check,
    );
    s.progress?.(counts.checked, counts);
    if (s.throttle > 0) await sleep(s.throttle);
  }
  report.ms = performance.now() - started;
  return report;
}

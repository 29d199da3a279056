import { setTimeout as sleep } from "node:timers/promises";
import { AppError, DatabaseMissing } from "../../errors.js";
import { couch } from "./index.js";

// Retries for long runs (tools, migrations, jobs paging the inventory): a
// CouchDB that is briefly away is waited for, with backoff, instead of ending the run.

/** The wait before attempt `attempt + 1`: 0.5 s, 1 s, … at most 8 s. */
export const backoff = (attempt: number) => Math.min(500 * 2 ** (attempt - 1), 8000);

/** Runs `call` until it succeeds, fails with what `retryable` refuses, or `attempts` are spent. */
export async function withRetries<T>(
  call: () => Promise<T>,
  retryable: (err: unknown) => boolean,
  attempts = 6,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      if (!retryable(err) || i >= attempts) throw err;
      await sleep(backoff(i));
    }
  }
}

// A missing database is a 503 too, but waiting does not bring it back: that is `oose migrate up`'s job.
const isOutage = (err: unknown) => err instanceof AppError && err.status === 503 && !(err instanceof DatabaseMissing);

/** A CouchDB call (classified and timed as couch() does) retried while CouchDB is unavailable. */
export function retrying<T>(what: string, call: () => Promise<T>, attempts = 6): Promise<T> {
  return withRetries(() => couch(what, call), isOutage, attempts);
}

/** How a toolkit function runs its calls: retrying (the default) or another wrapper. */
export type Run = <T>(what: string, call: () => Promise<T>) => Promise<T>;

// Delivery counts for hot-content scaling, in time buckets shared by every
// prism, and the extra copies the scaler made. Each bucket expires once no
// window covers it any more.

export interface HotCounts {
  /** Adds one flush of counts (hash → deliveries, store → deliveries) to `bucket`, kept for `lifeMs`. */
  add(bucket: number, hashes: Map<string, number>, stores: Map<string, number>, lifeMs: number): Promise<void>;
  /** Deliveries per hash summed over `buckets`, at least `min`, most first, at most `limit`. */
  rates(buckets: number[], o: { min: number; limit: number }): Promise<[string, number][]>;
  /** Deliveries per store summed over `buckets`. */
  storeLoad(buckets: number[]): Promise<Map<string, number>>;
  /** Marks `hashes` as hot at `at` (ms). */
  markHot(hashes: string[], at: number): Promise<void>;
  /** Hashes last marked hot at or before `before`. */
  hotUntil(before: number): Promise<string[]>;
  /** The stores that got an extra copy of `hash` for its heat. */
  extras(hash: string): Promise<string[]>;
  addExtra(hash: string, store: string): Promise<void>;
  dropExtras(hash: string, stores: string[]): Promise<void>;
  /** `hash` is no longer hot, and none of its copies are extra. */
  forget(hash: string): Promise<void>;
}

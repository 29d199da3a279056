// Counters of attempts within a window, shared by every prism (failed logins).

export interface AttemptCounters {
  /**
   * Counts one attempt on each of `keys`, which expire `windowMs` after their first count. When any counter
   * is past its limit (`limits[i]` for `keys[i]`), the attempt is not counted and the answer is the ms to
   * wait; 0 otherwise. One step for all keys, so parallel attempts cannot all pass.
   */
  attempt(keys: string[], windowMs: number, limits: number[]): Promise<number>;
  /** Takes one attempt back from each of `keys` still counting. */
  giveBack(keys: string[]): Promise<void>;
}

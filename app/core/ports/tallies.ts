// A node's request counters as `/stats` reports them: counted in memory and
// added to the shared store in batches, so they survive restarts and every
// worker of a node adds to one set.

export interface Tallies {
  /** Adds each count to its counter. */
  add(counts: Map<string, number>): Promise<void>;
  /** Every counter, as stored (numbers as decimal strings). */
  read(): Promise<Record<string, string>>;
  /** Drops every counter: how many sets were dropped (0 or 1). */
  clear(): Promise<number>;
}

/** What a node's `/healthz` asks of each backend: resolves when it answers. */
export type HealthChecks = Record<"couchdb" | "redis", () => Promise<unknown>>;

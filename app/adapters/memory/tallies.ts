import type { Tallies } from "../../core/ports/tallies.js";

/** A node's counters in one process's memory, for tests. */
export class MemoryTallies implements Tallies {
  private readonly counts = new Map<string, number>();

  async add(counts: Map<string, number>): Promise<void> {
    for (const [name, by] of counts) this.counts.set(name, (this.counts.get(name) ?? 0) + by);
  }

  async read(): Promise<Record<string, string>> {
    return Object.fromEntries([...this.counts].map(([name, n]) => [name, String(n)]));
  }

  async clear(): Promise<number> {
    const had = this.counts.size > 0 ? 1 : 0;
    this.counts.clear();
    return had;
  }
}

import type { Tallies } from "../core/ports/tallies.js";
import type { Logger } from "../log.js";

// Request/byte/error counters. Counted in memory and flushed to the shared
// tallies once a second, so the hot path never waits on a backend for a counter.

export class Counters {
  private pending = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  /** Counter names per route, built once rather than on every response. */
  private readonly routeNames = new Map<string, string>();

  constructor(
    private readonly tallies: Tallies,
    /** prism or store: the first part of every response counter. */
    private readonly role: string,
    private readonly log: Logger,
    private readonly flushEvery = 1000,
  ) {}

  inc(name: string, by = 1): void {
    this.pending.set(name, (this.pending.get(name) ?? 0) + by);
  }

  /** One answered request: the total, errors by status, and one count per route pattern (not per URL). */
  response(method: string, route: string | undefined, status: number): void {
    this.inc(`stat:${this.role}:requests`);
    if (status >= 400) this.inc(`error:${this.role}:status${status}`);
    if (!route || route === "/ping") return;
    const key = method + route;
    let name = this.routeNames.get(key);
    if (!name) {
      name = `stat:${this.role}:route:${method}${route.replaceAll(":", "=")}`;
      this.routeNames.set(key, name);
    }
    this.inc(name);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushEvery);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.tallies.add(batch);
    } catch (err) {
      // Keep the counts for the next flush rather than losing them.
      for (const [name, by] of batch) this.inc(name, by);
      this.log.debug({ err }, "counter flush failed");
    }
  }

  /** Drops every counter (/cache/flush): how many sets were dropped (0 or 1). */
  async clear(): Promise<number> {
    this.pending = new Map();
    return this.tallies.clear();
  }

  /** Nested view like OOSE's /stats: "stat:content:upload" → {stat: {content: {upload}}}. */
  async snapshot(): Promise<Record<string, unknown>> {
    const flat = await this.tallies.read();
    for (const [name, by] of this.pending) flat[name] = String(Number(flat[name] ?? 0) + by);
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(flat).sort()) {
      const parts = name.split(":");
      let node = out;
      for (const part of parts.slice(0, -1)) {
        if (typeof node[part] !== "object") node[part] = {};
        node = node[part] as Record<string, unknown>;
      }
      node[parts.at(-1)!] = value;
    }
    return out;
  }
}

import type { Redis } from "ioredis";
import { BackendUnavailable } from "../../errors.js";
import { redisCall } from "./index.js";

// Acknowledging a write only once replicas hold it (WAIT), so a Sentinel
// failover cannot lose it. When the primary has fewer replicas connected than
// asked for (right after a failover the promoted one has none until the old
// primary rejoins), it waits for those that are there instead of failing every
// write: the cluster keeps working, at the durability it has.

const INFO_LIFE_MS = 1000;

export class ReplicaWait {
  private known?: { replicas: number; at: number };

  constructor(
    private readonly redis: Redis,
    private readonly wanted: number,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves once min(wanted, connected) replicas acknowledged the writes before it; BackendUnavailable otherwise. */
  async wait(what: string): Promise<void> {
    if (this.wanted <= 0) return;
    const target = Math.min(this.wanted, await this.replicas(what));
    if (target === 0) return;
    const acked = await redisCall(`${what} wait`, () => this.redis.wait(target, this.timeoutMs));
    if (acked < target) {
      this.known = undefined;
      throw new BackendUnavailable(`${what}: not replicated (${acked}/${target} replicas)`);
    }
  }

  private async replicas(what: string): Promise<number> {
    if (this.known && this.now() - this.known.at < INFO_LIFE_MS) return this.known.replicas;
    const info = await redisCall(`${what} replicas`, () => this.redis.info("replication"));
    const replicas = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
    this.known = { replicas, at: this.now() };
    return replicas;
  }
}

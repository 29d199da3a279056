import type { Redis } from "ioredis";
import { BackendUnavailable } from "../../errors.js";
import { redisCall } from "./index.js";

// Writes acknowledged only once replicas hold them (WAIT), so a Sentinel
// failover cannot lose them. They go over a connection of their own: WAIT
// blocks the connection it is sent on, and reads (sessions, purchases for
// delivery) must not queue behind it. WAIT covers every earlier write of its
// connection, so writes made while one is on its way share the next (group
// commit): one WAIT per round trip to the replicas, not one per write.
// When the primary has fewer replicas connected than asked for (right after a
// failover the promoted one has none until the old primary rejoins), it waits
// for those that are there instead of failing every write: the cluster keeps
// working, at the durability it has.

const INFO_LIFE_MS = 1000;

export class ReplicatedWrites {
  private readonly conn: Redis;
  private known?: { replicas: number; at: number };
  /** Writes sent on `conn` so far; a WAIT sent after write n covers writes 1…n. */
  private sent = 0;
  private latest?: { covers: number; done: Promise<void> };

  constructor(
    private readonly redis: Redis,
    private readonly wanted: number,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.conn = wanted > 0 ? redis.duplicate() : redis;
    // A duplicate has none of the original's listeners; its failures reach the writers as 503s.
    if (this.conn !== redis) this.conn.on("error", () => undefined);
  }

  /**
   * Runs `write` (which must send its commands on the given connection at once,
   * before it awaits anything) and resolves once min(wanted, connected)
   * replicas hold it; BackendUnavailable otherwise.
   */
  async write<T>(what: string, write: (conn: Redis) => Promise<T>): Promise<T> {
    const seq = ++this.sent;
    const result = await redisCall(what, () => write(this.conn));
    if (this.wanted > 0) await this.replicated(seq, what);
    return result;
  }

  async close(): Promise<void> {
    if (this.conn !== this.redis) this.conn.disconnect();
  }

  private async replicated(seq: number, what: string): Promise<void> {
    if (this.latest && this.latest.covers >= seq) return this.latest.done;
    const known = this.known && this.now() - this.known.at < INFO_LIFE_MS ? this.known.replicas : undefined;
    const replicas = known ?? (await this.replicas(what));
    // Another write may have sent a WAIT covering this one in the meantime.
    if (this.latest && this.latest.covers >= seq) return this.latest.done;
    const target = Math.min(this.wanted, replicas);
    if (target === 0) return;
    // `covers` is read as the WAIT is sent: it covers every write sent before it.
    const latest = { covers: this.sent, done: this.waitFor(target, what) };
    this.latest = latest;
    return latest.done;
  }

  private async waitFor(target: number, what: string): Promise<void> {
    const acked = await redisCall(`${what} wait`, () => this.conn.wait(target, this.timeoutMs));
    if (acked < target) {
      this.known = undefined;
      throw new BackendUnavailable(`${what}: not replicated (${acked}/${target} replicas)`);
    }
  }

  private async replicas(what: string): Promise<number> {
    const info = await redisCall(`${what} replicas`, () => this.redis.info("replication"));
    const replicas = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
    this.known = { replicas, at: this.now() };
    return replicas;
  }
}

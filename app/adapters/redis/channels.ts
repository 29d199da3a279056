import type { Redis } from "ioredis";
import type { Logger } from "../../log.js";

// One subscriber connection per process for Redis pub/sub notices (cache
// invalidations). ioredis resubscribes by itself after a reconnect or a
// failover; a notice lost meanwhile only costs the cache entry's TTL.

export class Channels {
  private readonly handlers = new Map<string, ((message: string) => void)[]>();
  private sub?: Redis;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  on(channel: string, handler: (message: string) => void): void {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler]);
  }

  async start(): Promise<void> {
    this.sub = this.redis.duplicate();
    this.sub.on("error", () => undefined);
    this.sub.on("message", (channel: string, message: string) => {
      for (const handler of this.handlers.get(channel) ?? []) handler(message);
    });
    await this.sub.subscribe(...this.handlers.keys()).catch((err) => {
      this.log.warn({ err: err.message }, "pub/sub not subscribed; caches rely on their TTL");
    });
  }

  stop(): void {
    this.sub?.disconnect();
  }
}

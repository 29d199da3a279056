import type { Redis } from "ioredis";
import type { Notices } from "../../core/ports/notices.js";
import type { Logger } from "../../log.js";

// One subscriber connection per process for Redis pub/sub notices (cache
// invalidations). After a reconnect or a failover it subscribes again and
// tells `onResync` listeners: notices published while it was away are lost,
// so what a cache learned before then must be read again.

export class Channels implements Notices {
  private readonly handlers = new Map<string, ((message: string) => void)[]>();
  private readonly resyncs: (() => void)[] = [];
  private sub?: Redis;
  private away = false;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  on(channel: string, handler: (message: string) => void): void {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler]);
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.redis.publish(channel, message);
  }

  /** Called once the subscription is back after a gap in which notices may have been missed. */
  onResync(handler: () => void): void {
    this.resyncs.push(handler);
  }

  async start(): Promise<void> {
    const sub = this.redis.duplicate();
    this.sub = sub;
    sub.on("error", () => undefined);
    sub.on("message", (channel: string, message: string) => {
      for (const handler of this.handlers.get(channel) ?? []) handler(message);
    });
    sub.on("close", () => {
      this.away = true;
    });
    sub.on("ready", () => {
      if (!this.away) return;
      this.away = false;
      // Subscribing again is harmless when ioredis already has, and needed when the first subscribe failed.
      void this.subscribe().then((ok) => {
        if (ok) for (const resync of this.resyncs) resync();
      });
    });
    await this.subscribe();
  }

  private async subscribe(): Promise<boolean> {
    const channels = [...this.handlers.keys()];
    if (!this.sub || channels.length === 0) return true;
    try {
      await this.sub.subscribe(...channels);
      return true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "pub/sub not subscribed; caches rely on their TTL until it is");
      return false;
    }
  }

  stop(): void {
    this.sub?.disconnect();
  }
}

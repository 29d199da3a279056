import type { Notices } from "../../core/ports/notices.js";

/** Notices within one process, for tests: every handler hears every notice, after the publisher's turn. */
export class MemoryNotices implements Notices {
  private readonly handlers = new Map<string, ((message: string) => void)[]>();

  on(channel: string, handler: (message: string) => void): void {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler]);
  }

  onResync(): void {
    // One process: no notice is ever missed.
  }

  async publish(channel: string, message: string): Promise<void> {
    const handlers = this.handlers.get(channel) ?? [];
    queueMicrotask(() => {
      for (const h of handlers) h(message);
    });
  }
}

import { statfs } from "node:fs/promises";
import type { PeerDirectory } from "../core/ports/peers.js";
import type { Logger } from "../log.js";
import { diskFree, diskTotal } from "../metrics/index.js";

// Writes the disk's free and total bytes into the store's peer doc, so
// placement can prefer stores with room, and into the disk gauges. A failed
// write keeps the last value.

export class CapacityReporter {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly directory: Pick<PeerDirectory, "setCapacity">,
    private readonly peerKey: string,
    private readonly dataRoot: string,
    private readonly every: number,
    private readonly log: Logger,
  ) {}

  async report(): Promise<void> {
    const fs = await statfs(this.dataRoot);
    const capacity = { free: fs.bavail * fs.bsize, total: fs.blocks * fs.bsize, at: new Date().toISOString() };
    diskFree.set(capacity.free);
    diskTotal.set(capacity.total);
    await this.directory.setCapacity(this.peerKey, capacity);
  }

  async start(): Promise<void> {
    const tick = () =>
      this.report().catch((err) => this.log.warn({ err: (err as Error).message }, "capacity report failed"));
    await tick();
    if (this.every > 0) {
      this.timer = setInterval(() => void tick(), this.every);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

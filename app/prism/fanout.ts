import { once } from "node:events";
import { Writable } from "node:stream";

// Writes one stream to several sinks at the pace of the slowest live one.
// A sink that fails is dropped and the others carry on; when none is left
// the fan-out fails, so the client's upload stops instead of being read for nothing.
// A sink that takes nothing for `stallMs` (its store hangs) is dropped too, so
// one hung store cannot hold the upload to the transport's own timeouts.

export interface Branch {
  sink: Writable;
  failed: boolean;
}

export function fanOut(branches: Branch[], onAllFailed: () => Error, stallMs = 0): Writable {
  const live = () => branches.filter((b) => !b.failed && !b.sink.destroyed);
  return new Writable({
    highWaterMark: 256 * 1024,
    async write(chunk: Buffer, _enc, done) {
      try {
        const targets = live();
        if (targets.length === 0) throw onAllFailed();
        await Promise.all(
          targets.map(async (b) => {
            if (b.sink.write(chunk)) return;
            // Wait for room, or for the branch to die (then it is skipped from now on).
            const room = Promise.race([once(b.sink, "drain"), once(b.sink, "close")]).catch(() => undefined);
            if (stallMs <= 0) return room;
            let timer: NodeJS.Timeout | undefined;
            const stalled = new Promise<"stalled">((resolve) => {
              timer = setTimeout(() => resolve("stalled"), stallMs);
            });
            const outcome = await Promise.race([room, stalled]);
            clearTimeout(timer);
            if (outcome === "stalled") {
              b.failed = true;
              b.sink.destroy(new Error(`no progress for ${stallMs} ms`));
            }
          }),
        );
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    final(done) {
      for (const b of live()) b.sink.end();
      done();
    },
  });
}

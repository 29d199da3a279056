import { Worker } from "node:worker_threads";

// The content tree as a stream of batches, read by scan-walker.mjs in worker
// threads that split the root's entries between them. At most `credit`
// batches per walker wait here; a walker pauses until one of its own is taken.

export type WalkEntry =
  | { kind: "file"; rel: string; size: number }
  | { kind: "link" | "other"; rel: string }
  | { kind: "error"; rel: string; error: string };

export interface WalkResult {
  /** Directories read. */
  dirs: number;
}

type Message = { entries: [string, number, string?][] } | { done: true; dirs: number };

function toEntry([rel, size, error]: [string, number, string?]): WalkEntry {
  if (size >= 0) return { kind: "file", rel, size };
  if (size === -1) return { kind: "link", rel };
  if (size === -2) return { kind: "other", rel };
  return { kind: "error", rel, error: error ?? "unknown error" };
}

/** Walks `root`; `result.dirs` is set once the generator is done. Returning early stops the walkers. */
export async function* walkTree(
  root: string,
  o: { batchSize: number; credit?: number; threads?: number },
  result: WalkResult = { dirs: 0 },
): AsyncGenerator<WalkEntry[]> {
  const shards = Math.max(1, o.threads ?? 1);
  const queue: { worker: Worker; message: Message }[] = [];
  let failure: Error | undefined;
  let running = shards;
  let exited = 0;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  const workers = Array.from({ length: shards }, (_, shard) => {
    const worker = new Worker(new URL("./scan-walker.mjs", import.meta.url), {
      workerData: { root, batchSize: o.batchSize, credit: o.credit ?? 4, shard, shards },
    });
    worker.on("message", (message: Message) => {
      queue.push({ worker, message });
      poke();
    });
    worker.on("error", (err) => {
      failure = err;
      poke();
    });
    worker.on("exit", () => {
      exited++;
      poke();
    });
    return worker;
  });
  result.dirs = 0;
  try {
    while (running > 0) {
      const next = queue.shift();
      if (next) {
        const { worker, message } = next;
        if ("done" in message) {
          result.dirs += message.dirs;
          running--;
          continue;
        }
        worker.postMessage("credit");
        yield message.entries.map(toEntry);
        continue;
      }
      if (failure) throw failure;
      if (exited > shards - running) throw new Error("the directory walk stopped unexpectedly");
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

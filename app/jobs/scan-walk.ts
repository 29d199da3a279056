import { Worker } from "node:worker_threads";

// The content tree as a stream of batches, read by scan-walker.mjs in a worker
// thread. At most `credit` batches wait here; the walk pauses until one is taken.

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

/** Walks `root`; `result.dirs` is set once the generator is done. Returning early stops the worker. */
export async function* walkTree(
  root: string,
  o: { batchSize: number; credit?: number },
  result: WalkResult = { dirs: 0 },
): AsyncGenerator<WalkEntry[]> {
  const worker = new Worker(new URL("./scan-walker.mjs", import.meta.url), {
    workerData: { root, batchSize: o.batchSize, credit: o.credit ?? 4 },
  });
  const queue: Message[] = [];
  let failure: Error | undefined;
  let exited = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  worker.on("message", (m: Message) => {
    queue.push(m);
    poke();
  });
  worker.on("error", (err) => {
    failure = err;
    poke();
  });
  worker.on("exit", () => {
    exited = true;
    poke();
  });
  try {
    for (;;) {
      const m = queue.shift();
      if (m) {
        if ("done" in m) {
          result.dirs = m.dirs;
          return;
        }
        worker.postMessage("credit");
        yield m.entries.map(toEntry);
        continue;
      }
      if (failure) throw failure;
      if (exited) throw new Error("the directory walk stopped unexpectedly");
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    if (!exited) await worker.terminate();
  }
}

// The directory walk of `oose inventory scan`, in a worker thread: plain
// JavaScript (worker threads do not inherit the TypeScript loader), synchronous
// system calls (no promise per directory), and streaming: each directory is
// read through opendir, entries leave in batches as they are found, and the
// walk waits whenever the main thread holds `credit` unconsumed batches. Only
// the stack of directories still to read is kept (depth × fan-out entries).
import { lstatSync, opendirSync } from "node:fs";
import path from "node:path";
import { parentPort, workerData } from "node:worker_threads";

const { root, batchSize, credit: initialCredit } = workerData;
let credit = initialCredit;
let wake;
parentPort.on("message", (msg) => {
  if (msg === "credit") {
    credit++;
    wake?.();
  }
});

let batch = [];
let dirs = 0;
const send = async () => {
  if (batch.length === 0) return;
  while (credit <= 0) await new Promise((resolve) => (wake = resolve));
  credit--;
  parentPort.postMessage({ entries: batch });
  batch = [];
};

// Entries: [relativePath, size] for a file, [relativePath, -1] for a symlink,
// [relativePath, -2] for anything else, [relativePath, -3, message] for an error.
const stack = [""];
while (stack.length > 0) {
  const rel = stack.pop();
  const abs = rel === "" ? root : path.join(root, rel);
  let dir;
  try {
    dir = opendirSync(abs, { bufferSize: 64 });
  } catch (err) {
    batch.push([rel, -3, err.code ?? err.message]);
    continue;
  }
  dirs++;
  try {
    for (let e = dir.readSync(); e !== null; e = dir.readSync()) {
      const child = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        stack.push(child);
        continue;
      }
      if (e.isSymbolicLink()) batch.push([child, -1]);
      else {
        // Regular files, and entries whose type the file system did not say.
        try {
          const st = lstatSync(path.join(root, child));
          if (st.isFile()) batch.push([child, st.size]);
          else if (st.isDirectory()) stack.push(child);
          else batch.push([child, st.isSymbolicLink() ? -1 : -2]);
        } catch (err) {
          // Gone since the directory was read: not there, so not reported.
          if (err.code !== "ENOENT") batch.push([child, -3, err.code ?? err.message]);
        }
      }
      if (batch.length >= batchSize) await send();
    }
  } catch (err) {
    batch.push([rel, -3, err.code ?? err.message]);
  } finally {
    dir.closeSync();
  }
}
await send();
parentPort.postMessage({ done: true, dirs });

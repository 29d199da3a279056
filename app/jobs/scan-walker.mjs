// The directory walk of `oose inventory scan`, in a worker thread: plain
// JavaScript (worker threads do not inherit the TypeScript loader), synchronous
// system calls (no promise per directory), entries leaving in batches as they
// are found, and a pause whenever the main thread holds `credit` unconsumed
// batches. Only the stack of directories still to read is kept (depth ×
// fan-out entries), never a listing of the tree.
// Folders of the content layout (two hex characters; at most 256 sub-folders
// and a file or two each) are listed in one readdir call, twice as fast as
// opendir here; any other folder, whose size nothing bounds, streams through
// opendir entry by entry.
import { lstatSync, opendirSync, readdirSync } from "node:fs";
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

const LAYOUT = /^[0-9a-f]{2}$/;
const stack = [""];

// Entries: [relativePath, size] for a file, [relativePath, -1] for a symlink,
// [relativePath, -2] for anything else, [relativePath, -3, message] for an error.
function visit(rel, e) {
  const child = rel === "" ? e.name : `${rel}/${e.name}`;
  if (e.isDirectory()) stack.push(child);
  else if (e.isSymbolicLink()) batch.push([child, -1]);
  else {
    // Regular files, and entries whose type the file system did not say.
    try {
      const st = lstatSync(path.join(root, child));
      if (st.isFile()) batch.push([child, st.size]);
      else if (st.isDirectory()) stack.push(child);
      else batch.push([child, st.isSymbolicLink() ? -1 : -2]);
    } catch (err) {
      // Gone since the folder was read: not there, so not reported.
      if (err.code !== "ENOENT") batch.push([child, -3, err.code ?? err.message]);
    }
  }
}

while (stack.length > 0) {
  const rel = stack.pop();
  const abs = rel === "" ? root : path.join(root, rel);
  try {
    if (rel === "" || LAYOUT.test(path.basename(rel))) {
      const entries = readdirSync(abs, { withFileTypes: true });
      dirs++;
      for (const e of entries) {
        visit(rel, e);
        if (batch.length >= batchSize) await send();
      }
    } else {
      const dir = opendirSync(abs, { bufferSize: 64 });
      dirs++;
      try {
        for (let e = dir.readSync(); e !== null; e = dir.readSync()) {
          visit(rel, e);
          if (batch.length >= batchSize) await send();
        }
      } finally {
        dir.closeSync();
      }
    }
  } catch (err) {
    batch.push([rel, -3, err.code ?? err.message]);
  }
  if (batch.length >= batchSize) await send();
}
await send();
parentPort.postMessage({ done: true, dirs });

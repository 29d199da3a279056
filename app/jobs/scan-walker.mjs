// The directory walk of `oose inventory scan`, in a worker thread: plain
// JavaScript (worker threads do not inherit the TypeScript loader), synchronous
// system calls (no promise per directory), entries leaving in batches as they
// are found, and a pause whenever the main thread holds `credit` unconsumed
// batches. Only the stack of directories still to read is kept (depth ×
// fan-out entries), never a listing of the tree.
// Folders of the content layout (two hex characters; at most 256 sub-folders
// and a file or two each) are listed in one readdir call, twice as fast as
// opendir here; any other folder, whose size nothing bounds, streams through
// opendir entry by entry. Nearly all the time goes to the kernel (open,
// getdents, close: five system calls per folder), so the loop does no path
// work of its own beyond one concatenation per entry.
// Several walkers split the root's entries between them (`shard` of `shards`)
// by a hash of the name, so that a walker's share does not depend on the
// order, or the moment, in which it lists the root.
import { lstatSync, opendirSync, readdirSync } from "node:fs";
import path from "node:path";
import { parentPort, workerData } from "node:worker_threads";

const { batchSize, credit: initialCredit, shard = 0, shards = 1 } = workerData;
const root = path.resolve(workerData.root);
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

/** A folder of the layout: two lowercase hex characters. */
const isLayout = (name) => name.length === 2 && /^[0-9a-f]{2}$/.test(name);

/** Which walker takes a root entry (FNV-1a of its name). */
function shardOf(name) {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}

// Folders still to read, and whether each is a layout folder.
const stack = [""];
const layout = [true];

// Entries: [relativePath, size] for a file, [relativePath, -1] for a symlink,
// [relativePath, -2] for anything else, [relativePath, -3, message] for an error.
function visit(rel, e) {
  if (rel === "" && shards > 1 && shardOf(e.name) !== shard) return;
  const child = rel === "" ? e.name : `${rel}/${e.name}`;
  if (e.isDirectory()) {
    stack.push(child);
    layout.push(isLayout(e.name));
  } else if (e.isSymbolicLink()) batch.push([child, -1]);
  else {
    // Regular files, and entries whose type the file system did not say.
    try {
      const st = lstatSync(`${root}/${child}`);
      if (st.isFile()) batch.push([child, st.size]);
      else if (st.isDirectory()) {
        stack.push(child);
        layout.push(isLayout(e.name));
      } else batch.push([child, st.isSymbolicLink() ? -1 : -2]);
    } catch (err) {
      // Gone since the folder was read: not there, so not reported.
      if (err.code !== "ENOENT") batch.push([child, -3, err.code ?? err.message]);
    }
  }
}

while (stack.length > 0) {
  const rel = stack.pop();
  const small = layout.pop();
  const abs = rel === "" ? root : `${root}/${rel}`;
  try {
    if (small) {
      const entries = readdirSync(abs, { withFileTypes: true });
      // The root is counted once, by the first walker.
      if (rel !== "" || shard === 0) dirs++;
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
    // The root's own error is reported once, by the first walker.
    if (rel !== "" || shard === 0) batch.push([rel, -3, err.code ?? err.message]);
  }
  if (batch.length >= batchSize) await send();
}
await send();
parentPort.postMessage({ done: true, dirs });

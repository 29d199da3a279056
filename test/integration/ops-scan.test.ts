import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { openCouch } from "../../app/adapters/couch/index.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import { locate } from "../../app/core/layout.js";
import { InventoryScan, type ScanSettings } from "../../app/jobs/scan.js";
import { freePort, type Proc } from "../../infra/local/proc.js";
import { startCouch } from "../../infra/local/services.js";

// The inventory scan's removal pass against the CouchDB stand-in. It pages
// the store's docs in id (hash) order, so the files that went missing can
// fill its first pages: that alone must not look like an unmounted disk,
// while a disk that really holds none of the files still stops it.

let couchProc: Proc;
let url: string;
const dir = mkdtempSync(path.join(os.tmpdir(), "oose-scan-"));

test.before(async () => {
  const port = await freePort();
  couchProc = await startCouch({ port, logDir: dir });
  url = `http://127.0.0.1:${port}`;
});

test.after.always(async () => {
  await couchProc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial("missing files crowding the first pages are removed; an empty disk is refused", async (t) => {
  const couch = openCouch({ url, database: "scan", timeoutMs: 10_000 });
  t.teardown(() => couch.close());
  await ensureDatabases(couch);
  const dataRoot = path.join(dir, "store1");
  const content = path.join(dataRoot, "content");
  const files = Array.from({ length: 40 }, () => randomBytes(20).toString("hex"))
    .sort()
    .map((hash) => locate(content, hash, "bin").file!);
  for (const file of files) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "x");
  }
  const scan = (o: Partial<ScanSettings> = {}) =>
    new InventoryScan({
      couch,
      dataRoot,
      store: "store1",
      prism: "prism1",
      concurrency: 4,
      batchSize: 4,
      throttle: 0,
      dryRun: false,
      force: false,
      holdBack: 10,
      ...o,
    }).run();
  t.is((await scan()).counts.created, 40);

  // The 12 lowest hashes go: the first pages name nothing but missing files.
  for (const file of files.slice(0, 12)) unlinkSync(file);
  const pruned = await scan();
  t.is(pruned.refused, undefined);
  t.like(pruned.counts, { valid: 28, removed: 12, checked: 40, errors: 0 });

  // A disk holding none of the 28 files left: most of the store missing, nothing removed.
  renameSync(content, `${content}.away`);
  mkdirSync(content);
  const empty = await scan();
  t.regex(empty.refused ?? "", /missing disk/);
  t.is(empty.counts.removed, 0);
});

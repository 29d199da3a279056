import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { openCouch } from "../../app/adapters/couch/index.js";
import { CouchInventory } from "../../app/adapters/couch/inventory.js";
import { BlobStore } from "../../app/adapters/disk/index.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import { locate } from "../../app/core/layout.js";
import { InventoryScan } from "../../app/jobs/scan.js";
import type { ScanSettings } from "../../app/jobs/scan-settings.js";
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
      inventory: new CouchInventory(couch),
      blobs: new BlobStore(dataRoot),
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

test.serial("docs held back for removal stay if their file comes back or they are rewritten meanwhile", async (t) => {
  const base = openCouch({ url, database: "scanrace", timeoutMs: 10_000 });
  t.teardown(() => base.close());
  await ensureDatabases(base);
  const dataRoot = path.join(dir, "store2");
  const content = path.join(dataRoot, "content");
  const put = (hash: string) => {
    const file = locate(content, hash, "bin").file!;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "x");
    return file;
  };
  const hashes = Array.from({ length: 20 }, () => randomBytes(20).toString("hex"));
  const files = hashes.map(put);
  // Pass 2 judges every doc on one page, and holds its removals until the end.
  let judged = false;
  let rewritten = false;
  const [back, rewrite, gone] = hashes;
  const inventory = base.db<Record<string, unknown>>("inventory");
  // An upload of `rewrite` lands while the scan reads the revisions of the docs it is about to remove.
  const upload = async () => {
    put(rewrite!);
    const id = `${rewrite}:prism1:store2`;
    const doc = await inventory.get(id);
    await inventory.insert({ ...doc, verifiedAt: Date.now() });
  };
  const db = ((kind: Parameters<typeof base.db>[0]) => {
    const real = base.db(kind);
    if (kind !== "inventory") return real;
    return new Proxy(real, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function") return value;
        const call = value as (...args: unknown[]) => Promise<unknown>;
        if (prop !== "fetchRevs" && prop !== "fetch") return call.bind(target);
        return async (...args: unknown[]) => {
          if (judged && !rewritten) {
            rewritten = true;
            await upload();
          }
          return call.apply(target, args);
        };
      },
    });
  }) as typeof base.db;
  const settings: ScanSettings = {
    inventory: new CouchInventory({ ...base, db }),
    blobs: new BlobStore(dataRoot),
    dataRoot,
    store: "store2",
    prism: "prism1",
    concurrency: 4,
    batchSize: 100,
    throttle: 0,
    dryRun: false,
    force: false,
    holdBack: 1000,
  };
  t.is((await new InventoryScan(settings).run()).counts.created, 20);
  for (const h of [back, rewrite, gone]) unlinkSync(files[hashes.indexOf(h!)]!);

  const report = await new InventoryScan({
    ...settings,
    progress: (phase) => {
      if (phase !== "prune" || judged) return;
      judged = true;
      // Another copy of `back` is written once its doc was judged missing.
      put(back!);
    },
  }).run();
  t.true(rewritten, "the upload landed while the removals were held back");
  t.like(report.counts, { removed: 1, checked: 20, errors: 0 });
  const left = new Set((await inventory.list()).rows.map((r) => r.id));
  t.true(left.has(`${back}:prism1:store2`), "a file that came back keeps its doc");
  t.true(left.has(`${rewrite}:prism1:store2`), "a doc rewritten since it was judged stays");
  t.false(left.has(`${gone}:prism1:store2`), "a file still gone loses its doc");
});

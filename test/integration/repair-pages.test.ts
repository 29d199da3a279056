import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { openCouch } from "../../app/adapters/couch/index.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import type { InventoryDoc } from "../../app/core/inventory.js";
import { copyPages } from "../../app/adapters/couch/paging.js";
import { freePort, type Proc } from "../../infra/local/proc.js";
import { startCouch } from "../../infra/local/services.js";
import { INVENTORY_DESIGN } from "../../migrations/0001-base.js";

// Repair and scrub read a store's inventory a page at a time on the real
// stand-in, with and without the design docs installed (it ignores
// startkey_docid, so either way the pages come from _all_docs by id): every
// copy once, even when the caller deletes copies as it goes.

let couchProc: Proc;
let url: string;
const dir = mkdtempSync(path.join(os.tmpdir(), "oose-pages-"));

test.before(async () => {
  const port = await freePort();
  couchProc = await startCouch({ port, logDir: dir });
  url = `http://127.0.0.1:${port}`;
});

test.after.always(async () => {
  await couchProc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const doc = (i: number, store: string): InventoryDoc & { _id: string } => {
  const hash = i.toString(16).padStart(40, "0");
  return {
    _id: `${hash}:prism1:${store}`,
    hash,
    prism: "prism1",
    store,
    size: i,
    mimeType: "application/octet-stream",
    mimeExtension: "bin",
    relativePath: `${hash}.bin`,
    createdAt: new Date(0).toISOString(),
  };
};

for (const withView of [false, true]) {
  test.serial(`every copy of a store once, page by page, deletions included (${withView ? "design docs installed" : "no design docs"})`, async (t) => {
    const couch = openCouch({ url, database: `pages${withView ? "v" : "a"}`, timeoutMs: 5000 });
    t.teardown(() => couch.close());
    await ensureDatabases(couch);
    const inv = couch.db<InventoryDoc>("inventory");
    const docs = Array.from({ length: 120 }, (_, i) => doc(i, ["store1", "store2", "store10"][i % 3]!));
    await inv.bulk({ docs });
    if (withView) await inv.insert(INVENTORY_DESIGN as never);

    const seen: string[] = [];
    const notes: string[] = [];
    for await (const page of copyPages(couch, "store", "store1", { pageSize: 7, note: (m) => notes.push(m) })) {
      t.true(page.length <= 7);
      for (const d of page) {
        seen.push(d.hash);
        // Like a trim that removes this store's copy of every other file.
        if (d.size % 2 === 0) {
          const cur = await inv.get(`${d.hash}:prism1:store1`);
          await inv.destroy(cur._id, cur._rev);
        }
      }
    }
    t.true(notes.length > 0, "the operator is told why _all_docs is read");
    const expected = docs.filter((d) => d.store === "store1").map((d) => d.hash);
    t.deepEqual(seen.sort(), expected.sort());
  });
}

import test from "ava";
import { CouchInventory } from "../../app/adapters/couch/inventory.js";
import { MemoryInventory } from "../../app/adapters/memory/inventory.js";
import { copyDoc, type InventoryDoc, inventoryKey } from "../../app/core/inventory.js";
import type { Inventory } from "../../app/core/ports/inventory.js";
import { contract, useCouch } from "../helpers/contract.js";

// One body of tests for the Inventory port, run against CouchDB (the
// stand-in, its databases and design docs as `oose migrate up` leaves them)
// and against the memory inventory: lookups, revisions and conflicts, and
// pagers that see every copy once, in id order, across page boundaries and
// while the caller deletes what it has read.

const couch = useCouch(test);

const hashOf = (i: number) => i.toString(16).padStart(40, "0");
const file = (hash: string, size = 10) => ({ hash, ext: "bin", size, relativePath: `${hash}.bin` });
const docOf = (hash: string, store: string, prism = "p1", createdAt = "2026-01-01T00:00:00.000Z"): InventoryDoc =>
  copyDoc(file(hash), prism, store, createdAt);

async function collect<T>(pages: AsyncIterable<T[]>, each?: (page: T[]) => Promise<void>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) {
    out.push(...page);
    await each?.(page);
  }
  return out;
}

/** 23 hashes on s1 (prism p1), every hash but each third's on s3 (prism p2), and some on s10. */
async function seed(inv: Inventory): Promise<string[]> {
  const ids: string[] = [];
  const docs: InventoryDoc[] = [];
  for (let i = 0; i < 23; i++) {
    docs.push(docOf(hashOf(i), "s1"));
    if (i % 3 !== 0) docs.push(docOf(hashOf(i), "s3", "p2"));
    if (i % 5 === 0) docs.push(docOf(hashOf(i), "s10"));
  }
  await Promise.all(docs.map((d) => inv.record(d)));
  for (const d of docs) ids.push(inventoryKey(d.hash, d.prism, d.store));
  return ids.sort();
}

const isSorted = (ids: string[]) => ids.every((id, i) => i === 0 || ids[i - 1]! < id);

contract<Inventory>(
  test,
  [
    {
      name: "couch",
      make: async () => {
        const { couch: c } = await couch({ migrated: true });
        return { port: new CouchInventory(c, { maxDocs: 5, maxQueue: 100, windowMs: 0 }) };
      },
    },
    { name: "memory", make: async () => ({ port: new MemoryInventory() }) },
  ],
  {
    "a copy is recorded, found, recorded again with its createdAt kept, and removed": async (t, inv) => {
      const a = "a".repeat(40);
      const longer = `${"a".repeat(39)}b`;
      await inv.record(docOf(a, "s1", "p1", "2026-01-01T00:00:00.000Z"));
      await inv.record(docOf(a, "s2"));
      await inv.record(docOf(longer, "s1"));
      t.deepEqual((await inv.copiesOf(a)).map((d) => d.store).sort(), ["s1", "s2"]);
      await inv.record({ ...docOf(a, "s1", "p1", "2026-02-02T00:00:00.000Z"), verifiedAt: 42 });
      t.like(await inv.getCopy(a, "p1", "s1"), { createdAt: "2026-01-01T00:00:00.000Z", verifiedAt: 42, size: 10 });
      await inv.remove(a, "p1", "s1");
      await inv.remove(a, "p1", "s1");
      t.is(await inv.getCopy(a, "p1", "s1"), undefined);
      t.deepEqual(
        (await inv.copiesOf(a)).map((d) => d.store),
        ["s2"],
      );
      t.is((await inv.copiesOf(hashOf(1))).length, 0);
    },

    "copies on given stores only, an empty list for a hash with none": async (t, inv) => {
      await seed(inv);
      const found = await inv.copiesOnStores(
        [hashOf(3), hashOf(5), "f".repeat(40)],
        [
          { prism: "p1", name: "s1" },
          { prism: "p1", name: "s10" },
        ],
      );
      t.deepEqual(
        found.get(hashOf(3))!.map((d) => d.store),
        ["s1"],
      );
      t.deepEqual(
        found
          .get(hashOf(5))!
          .map((d) => d.store)
          .sort(),
        ["s1", "s10"],
      );
      t.deepEqual(found.get("f".repeat(40)), []);
    },

    "bulk writes answer per doc; stale revisions and blind re-creates conflict": async (t, inv) => {
      const [x, y] = [hashOf(100), hashOf(101)];
      const idX = inventoryKey(x, "p1", "s1");
      const idY = inventoryKey(y, "p1", "s1");
      t.deepEqual(
        await inv.bulkWrite([
          { ...docOf(x, "s1"), _id: idX },
          { ...docOf(y, "s1"), _id: idY },
        ]),
        ["ok", "ok"],
      );
      const rev1 = (await inv.revisions([idX])).get(idX)!;
      t.truthy(rev1);
      t.deepEqual(
        await inv.bulkWrite([{ ...docOf(x, "s1"), _id: idX }]),
        ["conflict"],
        "a doc that exists needs its revision",
      );
      t.deepEqual(await inv.bulkWrite([{ ...docOf(x, "s1"), size: 11, _id: idX, _rev: rev1 }]), ["ok"]);
      const rev2 = (await inv.fetch([idX])).get(idX)!._rev;
      t.not(rev2, rev1);
      t.is((await inv.fetch([idX])).get(idX)!.size, 11);
      t.deepEqual(await inv.bulkWrite([{ _id: idX, _rev: rev1, _deleted: true }]), ["conflict"], "a stale revision");
      t.deepEqual(await inv.bulkWrite([{ _id: idX, _rev: rev2, _deleted: true }]), ["ok"]);
      t.false((await inv.fetch([idX, idY])).has(idX));
      t.deepEqual([...(await inv.revisions([idX, idY, "nothing:p1:s1"])).keys()], [idY]);
      t.deepEqual(await inv.bulkWrite([]), []);
    },

    "a store's and a prism's pages hold each of their copies once, in id order": async (t, inv) => {
      const ids = await seed(inv);
      const o = { pageSize: 4 };
      const s1 = (await collect(inv.copyPages("store", "s1", o))).map((d) => d._id);
      t.deepEqual(
        s1,
        ids.filter((id) => id.endsWith(":p1:s1")),
      );
      t.true(isSorted(s1));
      const s10 = await collect(inv.copyIdPages("store", "s10", o));
      t.deepEqual(
        s10.map((c) => c.id),
        ids.filter((id) => id.endsWith(":s10")),
        "s1 is not s10, nor s10 s1",
      );
      t.like(s10[0], { hash: hashOf(0), prism: "p1", store: "s10" });
      const p2 = (await collect(inv.copyPages("prism", "p2", { pageSize: 3 }))).map((d) => d._id);
      t.deepEqual(
        p2,
        ids.filter((id) => id.includes(":p2:")),
      );
      t.deepEqual(await collect(inv.copyPages("store", "none", o)), []);
    },

    "deleting the copies already paged never makes the pager skip one": async (t, inv) => {
      const ids = await seed(inv);
      const seen = await collect(inv.copyPages("store", "s1", { pageSize: 5 }), async (page) => {
        await Promise.all(page.map((d) => inv.remove(d.hash, d.prism, d.store)));
      });
      t.deepEqual(
        seen.map((d) => d._id),
        ids.filter((id) => id.endsWith(":p1:s1")),
      );
      t.deepEqual(await collect(inv.copyPages("store", "s1", { pageSize: 5 })), []);
    },

    "every id once, in id order, design docs left out": async (t, inv) => {
      const ids = await seed(inv);
      const pages: string[][] = [];
      for await (const page of inv.idPages({ pageSize: 6 })) pages.push(page);
      t.deepEqual(pages.flat(), ids);
      t.true(pages.length >= Math.ceil(ids.length / 6));
    },

    "ids after a hash start past every copy of it, and run to the end": async (t, inv) => {
      const ids = await seed(inv);
      const after = (await collect(inv.idsAfter(hashOf(5), 4))).filter((id) => !id.startsWith("_design/"));
      t.deepEqual(
        after,
        ids.filter((id) => id > `${hashOf(5)}:\ufff0`),
      );
      t.is(after[0]!.split(":")[0], hashOf(6));
      const all = (await collect(inv.idsAfter(undefined, 7))).filter((id) => !id.startsWith("_design/"));
      t.deepEqual(all, ids);
    },
  },
);

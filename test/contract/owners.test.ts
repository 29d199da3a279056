import test from "ava";
import { CouchOwners } from "../../app/adapters/couch/owners.js";
import { MemoryOwners } from "../../app/adapters/memory/owners.js";
import { copiesBlocked, type OwnedFile } from "../../app/core/owners.js";
import type { Owners } from "../../app/core/ports/owners.js";
import { contract, useCouch } from "../helpers/contract.js";

// One body of tests for the Owners port, against CouchDB (the stand-in, with
// the owners database and view as `oose migrate up` leaves them) and memory:
// records kept with their first time, newest-first pages stable while records
// land, release, and the takedown mark.

const couch = useCouch(test);

const hashOf = (i: number) => i.toString(16).padStart(40, "0");
const file = (owner: string, i: number, uploadedAt: number): OwnedFile => ({
  ...{ owner, hash: hashOf(i), ext: "bin", size: i, mimeType: "application/octet-stream", uploadedAt },
});

async function all(port: Owners, owner: string, limit: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await port.list(owner, limit, cursor);
    if (page.files.length > limit) throw new Error(`a page of ${page.files.length} past its limit ${limit}`);
    out.push(...page.files.map((f) => f.hash));
    cursor = page.next;
  } while (cursor);
  return out;
}

contract<Owners>(
  test,
  [
    {
      name: "couch",
      make: async () => {
        const { couch: c } = await couch({ migrated: true, also: ["0005-owners"] });
        return { port: new CouchOwners(c, { maxBatch: 5, maxQueue: 100, windowMs: 0 }) };
      },
    },
    { name: "memory", make: async () => ({ port: new MemoryOwners() }) },
  ],
  {
    "a record is found by hash, kept with its first time, and released": async (t, o) => {
      await o.record(file("alice", 1, 1000), true);
      await o.record(file("alice", 1, 5000), false);
      await o.record(file("bob", 1, 2000), false);
      const h = await o.of(hashOf(1));
      t.true(h.origin);
      t.is(h.takedownAt, undefined);
      t.deepEqual(h.owners.map((f) => [f.owner, f.uploadedAt]).sort(), [
        ["alice", 1000],
        ["bob", 2000],
      ]);
      t.like(
        h.owners.find((f) => f.owner === "alice"),
        { ext: "bin", size: 1, mimeType: "application/octet-stream" },
      );
      await o.release(hashOf(1), ["alice"]);
      t.deepEqual(
        (await o.of(hashOf(1))).owners.map((f) => f.owner),
        ["bob"],
      );
      t.deepEqual((await o.of(hashOf(2))).owners, []);
      t.false((await o.of(hashOf(2))).origin);
    },
    "concurrent records share writes and all land": async (t, o) => {
      await Promise.all(Array.from({ length: 23 }, (_, i) => o.record(file("carol", i, 100 + i), i % 2 === 0)));
      t.is((await o.list("carol", 1000)).files.length, 23);
      t.true((await o.of(hashOf(4))).origin);
      t.false((await o.of(hashOf(5))).origin);
    },
    "pages run newest first, ties by hash, one owner only, and stay put while records land": async (t, o) => {
      for (let i = 0; i < 12; i++) await o.record(file("dave", i, 1000 + Math.floor(i / 3)), false);
      await o.record(file("erin", 50, 5000), false);
      const first = await o.list("dave", 4);
      t.is(first.files.length, 4);
      t.truthy(first.next);
      // Newer uploads land before the cursor: the next pages are unchanged by them.
      await o.record(file("dave", 40, 9000), false);
      const rest: string[] = [];
      let cursor = first.next;
      while (cursor) {
        const page = await o.list("dave", 4, cursor);
        rest.push(...page.files.map((f) => f.hash));
        cursor = page.next;
      }
      const expected = Array.from({ length: 12 }, (_, i) => i)
        .sort((a, b) => Math.floor(b / 3) - Math.floor(a / 3) || b - a)
        .map(hashOf);
      t.deepEqual([...first.files.map((f) => f.hash), ...rest], expected);
      t.deepEqual(await all(o, "dave", 5), [hashOf(40), ...expected]);
      t.deepEqual(await all(o, "erin", 1), [hashOf(50)]);
      t.deepEqual((await o.list("nobody", 10)).files, []);
    },
    "a cursor whose record went still pages on": async (t, o) => {
      for (let i = 0; i < 6; i++) await o.record(file("fay", i, 1000 + i), false);
      const first = await o.list("fay", 2);
      await o.release(hashOf(4), ["fay"]);
      const second = await o.list("fay", 2, first.next);
      t.deepEqual(
        second.files.map((f) => f.hash),
        [hashOf(3), hashOf(2)],
      );
    },
    "the takedown mark blocks copies until an owner uploads after it; release of all keeps the mark": async (t, o) => {
      await o.record(file("gus", 7, 1000), true);
      await o.markTakedown(hashOf(7), 2000);
      t.true(copiesBlocked(await o.of(hashOf(7))));
      await o.release(hashOf(7), [], true);
      const after = await o.of(hashOf(7));
      t.deepEqual(after.owners, []);
      t.false(after.origin);
      t.is(after.takedownAt, 2000);
      t.true(copiesBlocked(after));
      await o.record(file("gus", 7, 3000), true);
      t.false(copiesBlocked(await o.of(hashOf(7))));
      await o.markTakedown(hashOf(7), 4000);
      t.true(copiesBlocked(await o.of(hashOf(7))));
    },
  },
);

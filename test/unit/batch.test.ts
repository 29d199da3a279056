import test from "ava";
import { Batcher } from "../../app/core/batch.js";

// Group commit: what arrives while a batch is in flight shares the next one,
// each caller gets its own outcome, and a full queue holds submitters back.

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

test("items arriving while a batch is in flight share the next one", async (t) => {
  const batches: number[][] = [];
  const first = gate();
  const b = new Batcher<number, number>(
    async (items) => {
      batches.push(items);
      if (batches.length === 1) await first.opened;
      return items.map((i) => i * 2);
    },
    { maxBatch: 100, maxQueue: 100, windowMs: 0 },
  );
  const a = b.submit(1);
  await new Promise((r) => setImmediate(r));
  const rest = [2, 3, 4, 5].map((i) => b.submit(i));
  first.open();
  t.deepEqual(await Promise.all([a, ...rest]), [2, 4, 6, 8, 10]);
  t.deepEqual(batches, [[1], [2, 3, 4, 5]]);
  t.deepEqual(b.stats, { batches: 2, items: 5 });
});

test("a per-item error fails that caller alone; a failed batch fails all of its callers", async (t) => {
  let fail = false;
  const b = new Batcher<string, string>(
    async (items) => {
      if (fail) throw new Error("down");
      return items.map((i) => (i === "bad" ? new Error(`refused ${i}`) : i.toUpperCase()));
    },
    { maxBatch: 10, maxQueue: 10, windowMs: 0 },
  );
  const [ok1, bad, ok2] = await Promise.allSettled(["a", "bad", "c"].map((i) => b.submit(i)));
  t.like(ok1, { status: "fulfilled", value: "A" });
  t.like(bad, { status: "rejected" });
  t.is((bad as PromiseRejectedResult).reason.message, "refused bad");
  t.like(ok2, { status: "fulfilled", value: "C" });
  fail = true;
  const all = await Promise.allSettled(["x", "y"].map((i) => b.submit(i)));
  t.true(all.every((o) => o.status === "rejected" && o.reason.message === "down"));
});

test("batches are bounded, and two items with one key never share a batch", async (t) => {
  const batches: string[][] = [];
  const b = new Batcher<string, string>(
    async (items) => {
      batches.push(items);
      return items;
    },
    { maxBatch: 3, maxQueue: 100, windowMs: 0 },
    (item) => item.split("#")[0]!,
  );
  await Promise.all(["a#1", "b", "a#2", "c", "d", "e"].map((i) => b.submit(i)));
  t.true(batches.every((x) => x.length <= 3));
  t.false(batches.some((x) => x.includes("a#1") && x.includes("a#2")));
  t.deepEqual(batches.flat().sort(), ["a#1", "a#2", "b", "c", "d", "e"]);
});

test("a full queue makes submitters wait, and drops none", async (t) => {
  const release = gate();
  let running = 0;
  const b = new Batcher<number, number>(
    async (items) => {
      running++;
      if (running === 1) await release.opened;
      return items;
    },
    { maxBatch: 2, maxQueue: 2, windowMs: 0 },
  );
  const first = b.submit(0);
  await new Promise((r) => setImmediate(r));
  // The first batch is held: two fit in the queue, the rest wait for room.
  let admitted = 0;
  const rest = Array.from({ length: 6 }, (_, i) =>
    b.submit(i + 1).then((v) => {
      admitted++;
      return v;
    }),
  );
  await new Promise((r) => setImmediate(r));
  t.is(b.waiting, 2);
  t.is(admitted, 0);
  release.open();
  t.deepEqual(await Promise.all([first, ...rest]), [0, 1, 2, 3, 4, 5, 6]);
});

import test from "ava";
import { MemoryLeases } from "../../app/adapters/memory/lease.js";
import { MemoryOwners } from "../../app/adapters/memory/owners.js";
import { CopyGate } from "../../app/core/copy-gate.js";
import { HashLocks } from "../../app/core/hash-locks.js";

// The gate the copy jobs pass: no copy of a hash taken down (until an owner
// uploads it again), none while another holds the hash's lock, and the
// takedown waits for a copy that got in first.

const H = "a".repeat(40);
const file = (uploadedAt: number) => ({ owner: "alice", hash: H, ext: "bin", size: 1, mimeType: "x/y", uploadedAt });

function gate() {
  const owners = new MemoryOwners();
  const locks = new HashLocks(new MemoryLeases(), "t", "test");
  return { owners, locks, gate: new CopyGate(owners, locks) };
}

test("copies go through for a hash never taken down, and not after a takedown mark", async (t) => {
  const { owners, gate: g } = gate();
  t.deepEqual(await g.permit(H, async () => ["copied"]), ["copied"]);
  await owners.markTakedown(H, 1000);
  let ran = false;
  t.deepEqual(
    await g.permit(H, async () => {
      ran = true;
      return ["copied"];
    }),
    [],
  );
  t.false(ran);
  await owners.record(file(2000), true);
  t.deepEqual(await g.permit(H, async () => ["copied"]), ["copied"], "an owner's upload after it is new content");
});

test("a copy waits for nobody: while the hash's lock is held it is not made", async (t) => {
  const { locks, gate: g } = gate();
  const inside = await locks.with(H, () => g.permit(H, async () => ["copied"]));
  t.deepEqual(inside?.value, []);
});

test("the takedown's lock is taken only once a copy in flight has ended", async (t) => {
  const { locks, owners, gate: g } = gate();
  const order: string[] = [];
  let finish!: () => void;
  const copying = g.permit(H, async () => {
    order.push("copy started");
    await new Promise<void>((r) => {
      finish = r;
    });
    order.push("copy ended");
    return ["copied"];
  });
  await new Promise((r) => setImmediate(r));
  await owners.markTakedown(H, 1000);
  t.is(await locks.with(H, async () => order.push("takedown")), undefined, "refused while the copy runs");
  finish();
  await copying;
  await locks.with(H, async () => order.push("takedown"));
  t.deepEqual(order, ["copy started", "copy ended", "takedown"]);
  t.deepEqual(await g.permit(H, async () => ["copied"]), []);
});

import test from "ava";
import { Redis } from "ioredis";
import type { RepairStatus } from "../../app/jobs/repair.js";
import { useCluster } from "../helpers/cluster.js";
import {
  deliver,
  ensureStoreUp,
  FAST_HEARTBEAT,
  holders,
  inventory,
  killStore,
  peerDoc,
  restartStore,
  type Stored,
  storeFiles,
  until,
} from "../helpers/fault.js";
import { loggedIn } from "../helpers/prism.js";

// Self-healing: a store killed for good past repairAfter has every file it
// held copied back to 2 copies on the other stores (checked on disk); when it
// returns after all, the surplus copies are trimmed back to 2.

const cluster = useCluster(test, {
  extraEnv: (): Record<string, string> => ({ ...FAST_HEARTBEAT, OOSE_REPAIR__INTERVAL: "500" }),
});

let files: Stored[] = [];

test.before(async () => {
  files = await storeFiles(await loggedIn(cluster()), 32, 512 * 1024);
});

async function repairStatus(): Promise<RepairStatus | undefined> {
  const { sentinels, name } = cluster().info.redis;
  const redis = new Redis({ sentinels, name, lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
  try {
    const raw = await redis.get("oose:repair:status");
    return raw ? (JSON.parse(raw) as RepairStatus) : undefined;
  } finally {
    redis.disconnect();
  }
}

test.serial("a store dead past repairAfter: every file it held is back to 2 copies on the others; trimmed when it returns", async (t) => {
  const c = cluster();
  const stores = c.info.stores.map((s) => s.name);
  const count = (s: string) => files.filter((f) => holders(c, f).includes(s)).length;
  const victim = [...stores].sort((a, b) => count(b) - count(a))[0]!;
  const others = stores.filter((s) => s !== victim);
  const held = files.filter((f) => holders(c, f).includes(victim));
  t.true(held.length > 0);
  t.true(files.every((f) => holders(c, f).length === 2), "every file starts with 2 copies");
  t.teardown(() => ensureStoreUp(c, victim));

  const killedAt = performance.now();
  await killStore(c, victim);
  await until(
    "every file the dead store held back to 2 copies on the others",
    async () => held.every((f) => holders(c, f, others).length === 2),
    60_000,
    100,
  );
  const healedMs = performance.now() - killedAt;
  // The pass reports once its page of copies is done, a moment after the last one landed.
  let status: RepairStatus | undefined;
  await until(
    "the repair pass reports",
    async () => {
      status = await repairStatus();
      return status?.store === victim && status.state === "done";
    },
    10_000,
  );
  t.log(`repair: ${held.length} files (${(held.length / 2).toFixed(0)} MiB) back to 2 copies ${(healedMs / 1000).toFixed(1)} s after the kill (repairAfter 3 s)`);
  t.log(
    `repair: pass copied ${status?.copied} files, ${((status?.bytes ?? 0) / 1048576).toFixed(1)} MiB in ${status?.ms} ms = ` +
      `${((status?.bytesPerSec ?? 0) / 1048576).toFixed(1)} MiB/s (runner ${status?.runner}, state ${status?.state})`,
  );
  t.like(status, { store: victim, failed: 0, unreachable: 0 });
  for (const f of held) {
    const live = (await inventory(c, f.hash)).filter((d) => d.store !== victim).map((d) => d.store);
    t.deepEqual(live.sort(), holders(c, f, others).sort(), `${f.hash}: the inventory matches the disks`);
  }
  // Files the victim did not hold were left alone.
  t.true(files.filter((f) => !held.includes(f)).every((f) => holders(c, f).length === 2));
  // And they deliver.
  for (const f of held.slice(0, 10)) t.like(await deliver(c, 0, f), { ok: true });

  await restartStore(c, victim);
  await until("store available again", async () => (await peerDoc(c, victim)).available, 15_000);
  const trimmedMs = await until(
    "surplus copies trimmed",
    async () => files.every((f) => holders(c, f).length === 2),
    60_000,
    200,
  );
  t.log(`repair: surplus trimmed ${(trimmedMs / 1000).toFixed(1)} s after the store came back`);
  for (const f of held) {
    const docs = (await inventory(c, f.hash)).map((d) => d.store).sort();
    t.deepEqual(docs, holders(c, f).sort(), `${f.hash}: inventory and disks agree after trimming`);
  }
  for (const f of held.slice(0, 10)) t.like(await deliver(c, 1, f), { ok: true });
});

import { randomBytes } from "node:crypto";
import { unlinkSync } from "node:fs";
import path from "node:path";
import test from "ava";
import { Redis } from "ioredis";
import { relativePath } from "../../app/core/layout.js";
import type { HealStatus } from "../../app/jobs/heal.js";
import { useCluster } from "../helpers/cluster.js";
import { ensureStoreUp, FAST_HEARTBEAT, holders, killStore, type Stored, storeFiles, until } from "../helpers/fault.js";
import { couchDb, putOn, sha1 } from "../helpers/ops.js";
import { inventoryOf, loggedIn, storeRoot, zoneOf } from "../helpers/prism.js";

// The heal job on a 2-prism, 4-store cluster (replicas 2): files short of
// their copies are brought back to count, in another zone than the copy they
// have, with an inventory that matches the disks: a copy PUT by hand, a copy
// removed by hand, and a store that dies for good. Stores: store1 (zone1), store2 (zone2), store3 (zone1),
// store4 (zone2).

const cluster = useCluster(test, {
  extraEnv: (): Record<string, string> => ({
    ...FAST_HEARTBEAT,
    // The lost store is left to the heal alone.
    OOSE_REPAIR__ENABLED: "false",
    OOSE_HEAL__INTERVAL: "400",
    // Long enough that the single copies PUT by hand are still single when the test first looks, on a busy machine.
    OOSE_HEAL__GRACE: "3000",
  }),
});

const stores = () => cluster().info.stores.map((s) => s.name);

/** Stores holding a good copy of `hash` on disk, and the stores its inventory docs name. */
async function copies(hash: string, ext = "bin", among = stores()) {
  const file = { hash, relativePath: relativePath(hash, ext) } as Stored;
  const disk = holders(cluster(), file, among).sort();
  const docs = (await inventoryOf(cluster(), hash))
    .map((d) => d.store)
    .filter((s) => among.includes(s))
    .sort();
  return { disk, docs };
}

/** Healed: two copies on disk and docs naming exactly those. A copy lands on disk a moment before its doc. */
async function healed(hash: string, among = stores()): Promise<boolean> {
  const { disk, docs } = await copies(hash, "bin", among);
  return disk.length === 2 && docs.join() === disk.join();
}

async function healStatus(): Promise<HealStatus | undefined> {
  const { sentinels, name } = cluster().info.redis;
  const redis = new Redis({ sentinels, name, lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
  try {
    const raw = await redis.get("oose:heal:status");
    return raw ? (JSON.parse(raw) as HealStatus) : undefined;
  } finally {
    redis.disconnect();
  }
}

test.serial("a file PUT by hand onto one store is healed to 2 copies in the other zone", async (t) => {
  const c = cluster();
  const hashes: string[] = [];
  for (const store of stores()) hashes.push(await putOn(c, [store], randomBytes(64 * 1024)));
  for (const [i, hash] of hashes.entries()) t.deepEqual((await copies(hash)).disk, [stores()[i]!], "one copy to start");

  const ms = await until(
    "every file healed to 2 copies, its inventory matching",
    async () => {
      for (const hash of hashes) if (!(await healed(hash))) return false;
      return true;
    },
    60_000,
    200,
  );
  t.log(`4 single-copy files healed ${(ms / 1000).toFixed(1)} s after their PUT`);
  for (const [i, hash] of hashes.entries()) {
    const { disk, docs } = await copies(hash);
    t.deepEqual(docs, disk, `${hash}: the inventory matches the disks`);
    t.true(disk.includes(stores()[i]!), "the hand-made copy stays");
    t.not(zoneOf(c, disk[0]!), zoneOf(c, disk[1]!), `${hash}: the copies are in different zones`);
  }
  let status: HealStatus | undefined;
  await until(
    "the heal reports the files it healed",
    async () => {
      status = await healStatus();
      return (status?.total.healed ?? 0) >= hashes.length;
    },
    10_000,
  );
  t.true((status?.total.copied ?? 0) >= hashes.length);
  t.truthy(status?.lastHealedAt);
});

test.serial("a copy removed by hand from a store's disk and its doc is healed back", async (t) => {
  const c = cluster();
  const files = await storeFiles(await loggedIn(c), 8, 32 * 1024);
  const db = couchDb(c);
  const before = (await healStatus())?.total.healed ?? 0;
  for (const f of files) {
    const [victim] = holders(c, f);
    t.truthy(victim);
    unlinkSync(path.join(storeRoot(c, victim!), "content", f.relativePath));
    const id = `${f.hash}:${c.info.stores.find((s) => s.name === victim)!.prism}:${victim}`;
    const doc = await db.get(id);
    await db.destroy(id, doc._rev!);
  }

  await until(
    "every file back to 2 copies, its inventory matching",
    async () => {
      for (const f of files) if (!(await healed(f.hash))) return false;
      return true;
    },
    60_000,
    200,
  );
  for (const f of files) {
    const { disk, docs } = await copies(f.hash);
    t.deepEqual(docs, disk, `${f.hash}: the inventory matches the disks`);
    t.not(zoneOf(c, disk[0]!), zoneOf(c, disk[1]!));
    t.is(sha1(f.data), f.hash);
  }
  await until(
    "the heal counts them",
    async () => ((await healStatus())?.total.healed ?? 0) - before >= files.length,
    10_000,
  );
});

test.serial("a store lost for good (repair off): its files are healed onto the others", async (t) => {
  const c = cluster();
  const files = await storeFiles(await loggedIn(c), 16, 32 * 1024);
  const count = (s: string) => files.filter((f) => holders(c, f).includes(s)).length;
  const victim = [...stores()].sort((a, b) => count(b) - count(a))[0]!;
  const others = stores().filter((s) => s !== victim);
  const held = files.filter((f) => holders(c, f).includes(victim));
  t.true(held.length > 0);
  t.teardown(() => ensureStoreUp(c, victim));

  await killStore(c, victim);
  await until(
    "every file it held back to 2 copies on the others, its inventory matching",
    async () => {
      for (const f of held) if (!(await healed(f.hash, others))) return false;
      return true;
    },
    60_000,
    200,
  );
  for (const f of held) {
    const { disk, docs } = await copies(f.hash, "bin", others);
    t.deepEqual(docs, disk, `${f.hash}: the inventory matches the disks`);
  }
  t.true(
    files.every((f) => holders(c, f).length >= 2),
    "files the store did not hold kept their copies",
  );
});

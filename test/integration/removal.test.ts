import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdirSync } from "node:fs";
import path from "node:path";
import test from "ava";
import type { Redis } from "ioredis";
import { type Couch, openCouch } from "../../app/adapters/couch/index.js";
import { CouchInventory } from "../../app/adapters/couch/inventory.js";
import { CouchPeers } from "../../app/adapters/couch/peers.js";
import { RedisJobState } from "../../app/adapters/redis/job-state.js";
import { PeerTable } from "../../app/core/peer-table.js";
import { redisLeases } from "../../app/adapters/redis/lease.js";
import { HashLocks } from "../../app/core/hash-locks.js";
import { openRedis } from "../../app/adapters/redis/index.js";
import { StorePool } from "../../app/routing/pool.js";
import { type Config, loadConfig } from "../../app/config.js";
import { relativePath } from "../../app/core/layout.js";
import { Copies } from "../../app/routing/copies.js";
import { hotKeys, RedisHotCounts } from "../../app/adapters/redis/hot-counts.js";
import { HotScaler } from "../../app/jobs/hot.js";
import { Removal, removalOrder } from "../../app/jobs/removal.js";
import { Repair, type RepairStatus } from "../../app/jobs/repair.js";
import { logger } from "../../app/log.js";
import { type TestCluster, useCluster } from "../helpers/cluster.js";
import { signalStore } from "../helpers/fault.js";
import { json, oose, putOn, storeClient } from "../helpers/ops.js";
import { storeRoot } from "../helpers/prism.js";

// Removing copies on a real 2-prism, 4-store cluster, through the one removal
// routine: a corrupt copy, a stale inventory doc and a remove that times out
// while its store carries on never cost the last good copy, a hash another
// remover holds is left alone, and repair trimming, hot cool-down and
// clonetool acting on the same hashes at once leave every hash its copies.
// Stores re-hash on every verify (verifyExpiration 0), as they do for old copies.

const cluster = useCluster(test, {
  extraEnv: (node): Record<string, string> => ({
    OOSE_VERIFY_EXPIRATION: "0",
    // The test runs these jobs itself, on the hashes it chooses.
    ...(node.role === "prism" ? { OOSE_REPAIR__ENABLED: "false", OOSE_HOT__ENABLED: "false" } : {}),
  }),
});

const STORES = ["store1", "store2", "store3", "store4"];

interface World {
  config: Config;
  couch: Couch;
  redis: Redis;
  peers: PeerTable;
  pool: StorePool;
  copies: Copies;
  removal: Removal;
  close(): Promise<void>;
}

const log = logger("test", "removal");
log.level = "warn";

/** A prism's view of the cluster in this process; `timeoutMs` is its store calls' default deadline. */
async function world(c: TestCluster, timeoutMs = 30_000): Promise<World> {
  const config = loadConfig(c.env.prism1);
  const couch = openCouch(config.couchdb);
  const redis = openRedis(config.redis, log);
  const peers = new PeerTable(new CouchPeers(couch), 60_000, log);
  await peers.refresh();
  const pool = new StorePool(peers, config.auth.store, timeoutMs);
  const copies = new Copies(new CouchInventory(couch), pool);
  const removal = new Removal({ copies, pool, locks: new HashLocks(redisLeases(redis), config.redis.prefix, "test"), log });
  return {
    ...{ config, couch, redis, peers, pool, copies, removal },
    async close() {
      redis.disconnect();
      await couch.close();
    },
  };
}

const fileOn = (c: TestCluster, store: string, hash: string, ext = "bin") =>
  path.join(storeRoot(c, store), "content", relativePath(hash, ext));

/** Stores whose copy of `hash` answers a forced verify with "ok". */
async function verifiedHolders(c: TestCluster, hash: string, ext = "bin"): Promise<string[]> {
  const ok: string[] = [];
  for (const s of STORES) {
    if (!existsSync(fileOn(c, s, hash, ext))) continue;
    const res = await storeClient(c, s)
      .verify(`${hash}.${ext}`, true, 120_000)
      .catch(() => undefined);
    if (res?.status === "ok") ok.push(s);
  }
  return ok;
}

/** The stores in the order the routine would remove their copies. */
async function order(w: World, hash: string): Promise<string[]> {
  return removalOrder((await w.copies.holders(hash)).live).map((h) => h.peer.name);
}

function flipByte(file: string): void {
  const bytes = readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(file, bytes);
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test.serial("a corrupt copy, found when removing it or when counting, never costs the good one", async (t) => {
  const c = cluster();
  const w = await world(c);
  t.teardown(() => w.close());
  for (const corrupt of ["first", "second"] as const) {
    const hash = await putOn(c, ["store1", "store3"], randomBytes(200_000));
    const [first, second] = await order(w, hash);
    const bad = corrupt === "first" ? first! : second!;
    const good = corrupt === "first" ? second! : first!;
    flipByte(fileOn(c, bad, hash));

    const r = await w.removal.remove({ hash, keep: 1 });
    t.deepEqual(r.removed, [], `${corrupt}: the only good copy stays`);
    t.deepEqual(await verifiedHolders(c, hash), [good], corrupt);
    t.false(existsSync(fileOn(c, bad, hash)), `${corrupt}: the store removed its corrupt copy`);
    if (corrupt === "first") t.like(r.skipped[0], { store: bad, reason: "corrupt" });
    t.like(r.skipped.at(-1), { store: good, reason: "too-few-verified" });
  }
});

test.serial("a stale inventory doc (404) on either copy never costs the real one", async (t) => {
  const c = cluster();
  const w = await world(c);
  t.teardown(() => w.close());
  for (const stale of ["first", "second"] as const) {
    const hash = await putOn(c, ["store2", "store4"], randomBytes(50_000));
    const [first, second] = await order(w, hash);
    const gone = stale === "first" ? first! : second!;
    const real = stale === "first" ? second! : first!;
    unlinkSync(fileOn(c, gone, hash));

    const r = await w.removal.remove({ hash, keep: 1 });
    t.deepEqual(r.removed, [], stale);
    t.deepEqual(await verifiedHolders(c, hash), [real], stale);
    if (stale === "first") t.like(r.skipped[0], { store: gone, reason: "not-found" });
    t.like(r.skipped.at(-1), { store: real, reason: "too-few-verified" });
  }
});

test.serial("a remove that times out while its store carries on is not followed by another", async (t) => {
  const c = cluster();
  // Store calls without their own deadline (the remove) give up soon; verifies keep theirs.
  const w = await world(c, 300);
  t.teardown(() => w.close());
  const hash = await putOn(c, ["store1", "store4"], randomBytes(1024 * 1024));
  const [first, second] = await order(w, hash);
  // A kept-alive connection, so the remove reaches the store while it hangs, and runs once it wakes.
  await w.pool.client(w.pool.peer(first!)!).ping();
  signalStore(c, first!, "SIGSTOP");
  t.teardown(() => signalStore(c, first!, "SIGCONT"));
  let r: Awaited<ReturnType<Removal["remove"]>>;
  try {
    r = await w.removal.remove({ hash, keep: 1 });
  } finally {
    signalStore(c, first!, "SIGCONT");
  }
  t.deepEqual(r.removed, []);
  t.like(r.skipped[0], { store: first, reason: "unknown" });
  t.like(r.skipped.at(-1), { store: second, reason: "too-few-verified" });
  // The store finishes the verify-then-remove it was asked for.
  await until("the timed-out removal to finish on its store", () => !existsSync(fileOn(c, first!, hash)));
  t.deepEqual(await verifiedHolders(c, hash), [second]);
  // The lock stays for a lease after an unknown outcome: nobody counts while a removal may still be running.
  const again = await w.removal.remove({ hash, keep: 1 });
  t.deepEqual(again, { hash, removed: [], skipped: [{ reason: "locked" }] });
});

test.serial("a hash another remover holds is skipped, not waited for", async (t) => {
  const c = cluster();
  const w = await world(c);
  t.teardown(() => w.close());
  const hash = await putOn(c, STORES, randomBytes(10_000));
  const key = new HashLocks(redisLeases(w.redis), w.config.redis.prefix, "x").key(hash);
  await w.redis.set(key, "another-remover", "PX", 60_000);
  const r = await w.removal.remove({ hash, keep: 1 });
  t.deepEqual(r, { hash, removed: [], skipped: [{ reason: "locked" }] });
  t.is((await verifiedHolders(c, hash)).length, 4);
  t.is(await w.redis.get(key), "another-remover", "someone else's lock is left alone");

  await w.redis.del(key);
  // Two removers in one process exclude each other too: the second finds the hash held.
  const [freed, second] = await Promise.all([w.removal.remove({ hash, keep: 2 }), w.removal.remove({ hash, keep: 1 })]);
  t.deepEqual(second, { hash, removed: [], skipped: [{ reason: "locked" }] });
  t.is(freed.removed.length, 2);
  t.is((await verifiedHolders(c, hash)).length, 2);
  t.is(await w.redis.exists(key), 0, "released when done");
});

test.serial("clonetool --drop keeps a verified copy elsewhere", async (t) => {
  const c = cluster();
  const only = await putOn(c, ["store3"], randomBytes(5000));
  const refused = await oose(c, "prism1", ["clonetool", "--hash", only, "--drop", "store3", "--force", "--json"]);
  t.is(refused.code, 1);
  t.like(json(refused).results, { removed: 0, removeFailed: 1, skipped: { "too-few-verified": 1 } });
  t.deepEqual(await verifiedHolders(c, only), ["store3"]);

  const two = await putOn(c, ["store2", "store3"], randomBytes(5000));
  const dropped = await oose(c, "prism1", ["clonetool", "--hash", two, "--drop", "store3", "--force", "--json"]);
  t.is(dropped.code, 0, dropped.stderr);
  t.deepEqual(await verifiedHolders(c, two), ["store2"]);
});

test.serial(
  "repair trim, hot cool-down and clonetool --desired 1 at once leave every hash a verified copy",
  async (t) => {
    const c = cluster();
    const w = await world(c);
    t.teardown(() => w.close());
    const { prefix } = w.config.redis;
    const hashes: string[] = [];
    for (let i = 0; i < 8; i++) hashes.push(await putOn(c, STORES, randomBytes(2 * 1024 * 1024 + i)));

    // Repair: store1 was repaired for an outage and is back, so its files' surplus is trimmed (down to replicas 2).
    await w.redis.hset(
      `${prefix}:repair:stores`,
      "store1",
      JSON.stringify({ since: "2026-01-01T00:00:00.000Z", complete: true }),
    );
    const repair = new Repair({
      ...w,
      ...{ inventory: new CouchInventory(w.couch), state: new RedisJobState(w.redis), leases: redisLeases(w.redis) },
      ...{ log, now: Date.now },
    });
    // Hot: every hash cooled long ago. Its copies added for heat are the two trimming would keep, so
    // removers each working from their own snapshot would between them take every copy.
    const keys = hotKeys(prefix);
    for (const h of hashes) {
      await w.redis.zadd(keys.active, 0, h);
      await w.redis.sadd(keys.extra(h), ...(await order(w, h)).slice(2));
    }
    const hot = new HotScaler({
      ...{ counts: new RedisHotCounts(w.redis, prefix), leases: redisLeases(w.redis) },
      ...{ copies: w.copies, removal: w.removal, pool: w.pool, prefix, name: "test" },
      ...{ settings: w.config.hot, replicas: w.config.replicas, log },
    });
    // Started for its round to run, not for its timer.
    hot.start();
    t.teardown(() => hot.stop());
    const list = path.join(c.dataDir, "removal-hashes");
    mkdirSync(list, { recursive: true });
    writeFileSync(path.join(list, "hashes.txt"), `${hashes.join("\n")}\n`);
    const clonetool = [
      "clonetool",
      "--input",
      path.join(list, "hashes.txt"),
      "--desired",
      "1",
      "--above",
      "1",
      "--json",
    ];

    const [, cooled, tool] = await Promise.all([repair.run(), hot.round(), oose(c, "prism2", clonetool)]);
    await hot.stop();
    const trimmed = (JSON.parse((await w.redis.get(`${prefix}:repair:status`))!) as RepairStatus).trimmed;
    const toolRemoved: number = json(tool).results.removed;

    let left = 0;
    for (const h of hashes) {
      const verified = await verifiedHolders(c, h);
      t.true(verified.length >= 1, `${h}: ${verified.length} verified copies`);
      left += STORES.filter((s) => existsSync(fileOn(c, s, h))).length;
    }
    t.is(
      trimmed + cooled.removed + toolRemoved,
      hashes.length * STORES.length - left,
      "removals reported = copies gone",
    );
    t.log(`removed: repair ${trimmed}, hot ${cooled.removed}, clonetool ${toolRemoved}; ${left} copies left`);
  },
);

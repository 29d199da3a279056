import anyTest, { type ExecutionContext, type TestFn } from "ava";
import { purchaseKey } from "../../app/core/purchase.js";
import { migrateUp, type RunReport } from "../../migrations/lib/runner.js";
import { defaultShape, type FixtureShape, legacyInventory, legacyPeers, legacyPurchase } from "./fixtures/legacy.js";
import { type Layout, seed } from "./fixtures/seed.js";
import { dump, dumpAll, runOptions, type Services, useServices } from "./helpers.js";

// Each legacy layout migrates to exactly the expected docs and keys; a dry run
// changes nothing and reports the real run's counts; running again (even with
// the migration records gone) changes nothing.

const test = anyTest as TestFn;
const services = useServices(test);
const AFTERLIFE = 7_200_000;
const IDS = ["0001-base", "0002-legacy-2.0-split", "0003-purchases-to-redis", "0004-redis-purchase-ttl", "0005-owners"];

const countsOf = (r: RunReport) => Object.fromEntries(r.results.map((x) => [x.id, x.counts]));
const byId = (r: RunReport, id: string) => r.results.find((x) => x.id === id)!.counts;

function expectedInventory(shape: FixtureShape) {
  const out = new Map<string, Record<string, unknown>>();
  let malformed = 0;
  for (let i = 0; i < shape.inventory; i++) {
    const inv = legacyInventory(i, shape);
    if (inv.expected) out.set(inv.expected._id as string, inv.expected);
    else malformed++;
  }
  return { docs: out, malformed };
}

async function checkPeersAndInventory(t: ExecutionContext, s: Services, shape: FixtureShape, database: string) {
  const peers = (await dump(s.server, `${database}-peer`))!;
  const wanted = Object.fromEntries(legacyPeers(shape).map((p) => [p.expected._id as string, p.expected]));
  t.deepEqual(
    Object.fromEntries(Object.entries(peers).filter(([id]) => !id.startsWith("oose:"))),
    wanted,
    "peer docs in the 3.0 shape",
  );
  const inventory = (await dump(s.server, `${database}-inventory`))!;
  const { docs } = expectedInventory(shape);
  const migrated = Object.entries(inventory).filter(([id]) => !id.startsWith("_design/") && !id.startsWith("oose:"));
  t.is(migrated.length, docs.size, "one inventory doc per valid legacy record");
  for (const [id, doc] of migrated) {
    const { createdAt, ...rest } = doc as Record<string, unknown>;
    t.deepEqual(rest, docs.get(id), `inventory ${id}`);
    t.regex(String(createdAt), /^\d{4}-\d\d-\d\dT/);
  }
  t.truthy(inventory["_design/inventory"]);
  t.truthy(inventory["_design/keyList"]);
  t.falsy(inventory["_design/inventory_new"], "the staging design doc is gone");
  const view = await s.server.use(`${database}-inventory`).view("inventory", "byHash", { limit: 1000 });
  t.is(view.rows.length, docs.size, "byHash lists every migrated copy and nothing else");
}

async function checkRedis(t: ExecutionContext, s: Services, shape: FixtureShape, prefix: string) {
  const keys = (await s.redis.keys(`${prefix}:purchase:*`)).filter((k) => !k.slice(prefix.length + 10).includes(":"));
  const kept = Array.from({ length: shape.purchases }, (_, i) => legacyPurchase(i, shape)).filter((p) => p.kept);
  const mine = keys.filter((k) => kept.some((p) => k.endsWith(p.token)));
  t.is(mine.length, kept.length, "every purchase within its afterlife is in Redis");
  for (const p of kept) {
    const key = purchaseKey(prefix, p.token);
    t.deepEqual(await s.redis.hgetall(key), p.expectedHash, `fields of ${key}`);
    const expected = p.expirationDate + AFTERLIFE - Date.now();
    const pttl = await s.redis.pttl(key);
    t.true(pttl <= expected + 1000 && pttl >= expected - 30_000, `TTL of ${key}: ${pttl} vs ${expected}`);
  }
  for (const p of Array.from({ length: shape.purchases }, (_, i) => legacyPurchase(i, shape)).filter((x) => !x.kept)) {
    t.is(await s.redis.exists(purchaseKey(prefix, p.token)), 0, "a purchase past its afterlife is dropped");
  }
}

async function scenario(t: ExecutionContext, layout: Layout, name: string) {
  const s = services();
  const database = `layout${name}`;
  const prefix = `p${name}`;
  const shape = defaultShape({ inventory: 60, purchases: 12, downvotes: 3, malformedEvery: 13, afterlife: AFTERLIFE });
  await seed(layout, shape, { server: s.server, database, redis: s.redis, redisPrefix: prefix, batch: 25 });
  if (layout === "2.2") {
    await s.redis.set(`${prefix}:purchase:cache:abc`, "{}", "EX", 300);
    await s.redis.hset(`${prefix}:purchase:withttl`, { hash: "x", expirationDate: "1" });
    await s.redis.pexpire(`${prefix}:purchase:withttl`, 600_000);
    await s.redis.hset(`${prefix}:purchase:broken`, { hash: "y" });
  }
  const before = await dumpAll(s, database, prefix);

  const dry = await migrateUp(runOptions(s, database, prefix, { dryRun: true }));
  t.true(dry.ok, dry.error ?? JSON.stringify(dry.results));
  t.deepEqual(await dumpAll(s, database, prefix), before, "a dry run writes nothing");

  const real = await migrateUp(runOptions(s, database, prefix));
  t.true(real.ok, real.error ?? JSON.stringify(real.results));
  t.deepEqual(
    real.results.map((r) => r.id),
    IDS,
  );
  t.deepEqual(countsOf(real), countsOf(dry), "the dry run reported the real run's counts");

  const after = await dumpAll(s, database, prefix);
  const again = await migrateUp(runOptions(s, database, prefix));
  t.true(again.ok);
  t.deepEqual(again.results, []);
  t.deepEqual(again.alreadyApplied, IDS);
  t.deepEqual(await dumpAll(s, database, prefix), after, "a second run changes nothing");

  // Forget every record: each migration runs again and must find its work done.
  await s.server.db.destroy(`${database}-meta`);
  const redo = await migrateUp(runOptions(s, database, prefix));
  t.true(redo.ok, redo.error);
  for (const r of redo.results.slice(1)) t.is(r.counts.moved, 0, `${r.id} moves nothing the second time`);
  const strip = (d: Awaited<ReturnType<typeof dumpAll>>) => ({ ...d, couch: { ...d.couch, [`${database}-meta`]: 0 } });
  t.deepEqual(strip(await dumpAll(s, database, prefix)), strip(after), "re-running every migration changes nothing");
  return { s, shape, database, prefix, before, real };
}

const kept = (shape: FixtureShape) =>
  Array.from({ length: shape.purchases }, (_, i) => legacyPurchase(i, shape)).filter((p) => p.kept).length;
const peerCount = (shape: FixtureShape) => legacyPeers(shape).length;

test("2.0.3 single database → split databases and Redis purchases", async (t) => {
  const { s, shape, database, prefix, before, real } = await scenario(t, "2.0.3", "203");
  const { docs, malformed } = expectedInventory(shape);
  await checkPeersAndInventory(t, s, shape, database);
  await checkRedis(t, s, shape, prefix);
  t.deepEqual(await dump(s.server, database), before.couch[database], "the legacy database is left as it was");
  t.deepEqual(await dump(s.server, `${database}-heartbeat`), {}, "downvotes are not carried over");
  t.like(byId(real, "0002-legacy-2.0-split"), {
    moved: peerCount(shape) + docs.size,
    skipped: malformed + shape.downvotes,
    errors: 0,
  });
  t.like(byId(real, "0003-purchases-to-redis"), { moved: kept(shape), dropped: shape.purchases - kept(shape) });
});

test("2.0.4 split databases with prefixed keys are re-keyed in place", async (t) => {
  const { s, shape, database, prefix, before, real } = await scenario(t, "2.0.4", "204");
  const { docs, malformed } = expectedInventory(shape);
  await checkPeersAndInventory(t, s, shape, database);
  await checkRedis(t, s, shape, prefix);
  const peers = (await dump(s.server, `${database}-peer`))!;
  t.deepEqual(
    Object.keys(peers).filter((id) => id.startsWith("oose:")),
    [],
    "old peer keys are gone",
  );
  const inventory = (await dump(s.server, `${database}-inventory`))!;
  t.is(Object.keys(inventory).filter((id) => id.startsWith("oose:")).length, malformed, "only malformed records stay");
  t.deepEqual(await dump(s.server, `${database}-heartbeat`), before.couch[`${database}-heartbeat`]);
  t.deepEqual(await dump(s.server, `${database}-purchase`), before.couch[`${database}-purchase`]);
  t.like(byId(real, "0002-legacy-2.0-split"), {
    moved: peerCount(shape) + docs.size,
    skipped: malformed + shape.downvotes,
  });
});

test("2.1 CouchDB purchases → Redis with the remaining TTL", async (t) => {
  const { s, shape, prefix, real } = await scenario(t, "2.1", "21");
  await checkRedis(t, s, shape, prefix);
  t.like(byId(real, "0002-legacy-2.0-split"), { moved: 0, skipped: 0 });
  t.like(byId(real, "0003-purchases-to-redis"), {
    moved: kept(shape),
    dropped: shape.purchases - kept(shape),
    exists: 0,
  });
});

test("2.2 Redis purchases without a TTL get expirationDate + afterlife", async (t) => {
  const { s, shape, prefix, real } = await scenario(t, "2.2", "22");
  await checkRedis(t, s, shape, prefix);
  t.like(byId(real, "0004-redis-purchase-ttl"), {
    moved: kept(shape),
    dropped: shape.purchases - kept(shape),
    skipped: 1,
    errors: 0,
  });
  t.is(await s.redis.type(`${prefix}:purchase:cache:abc`), "string", "non-purchase keys are left alone");
  t.true((await s.redis.pttl(`${prefix}:purchase:withttl`)) > 500_000, "an existing TTL is kept");
  t.is(await s.redis.pttl(`${prefix}:purchase:broken`), -1, "a malformed purchase is left for the operator");
});

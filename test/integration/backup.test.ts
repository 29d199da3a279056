import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import test from "ava";
import { Redis } from "ioredis";
import nano from "nano";
import { PrismClient } from "../../packages/client/src/index.js";
import { useCluster } from "../helpers/cluster.js";
import { deliver, type Stored, storeFiles, until } from "../helpers/fault.js";
import { filesOn, json, oose, ooseWith } from "../helpers/ops.js";
import { loggedIn } from "../helpers/prism.js";

// Recovery on a real cluster: `oose status` with nothing but the cluster.json
// in its working directory; a backup, CouchDB's OOSE databases and Redis
// wiped, a restore (twice, and --prune), after which every file, purchase and
// session works again; damaged and foreign archives refused before anything
// is written; and a lost inventory database rebuilt from the disks by
// `oose inventory scan`.

const cluster = useCluster(test);
const OOSE_DBS = ["oose-peer", "oose-inventory", "oose-heartbeat", "oose-meta", "oose-owner"];
const work = mkdtempSync(path.join(os.tmpdir(), "oose-backup-test-"));

const redisOf = () => new Redis({ sentinels: cluster().info.redis.sentinels, name: cluster().info.redis.name });

async function allDeliver(files: Stored[]): Promise<string[]> {
  const failures: string[] = [];
  for (const [i, f] of files.entries()) {
    const d = await deliver(cluster(), i % 2, f);
    if (!d.ok) failures.push(`${f.hash}: ${d.error}`);
  }
  return failures;
}

async function purchaseKeys(redis: Redis): Promise<string[]> {
  return (await redis.keys("oose:purchase:*")).filter((k) => k.split(":").length === 3);
}

test.serial("oose status with no flags reads .oose/cluster.json from its working directory", async (t) => {
  const c = cluster();
  const dir = path.join(work, "checkout");
  mkdirSync(path.join(dir, ".oose"), { recursive: true });
  writeFileSync(path.join(dir, ".oose", "cluster.json"), JSON.stringify(c.info));
  const run = await ooseWith(["status", "--json"], {}, dir);
  t.is(run.code, 0, run.stderr);
  const report = json(run);
  t.deepEqual(report.stores.map((s: { name: string }) => s.name).sort(), c.info.stores.map((s) => s.name).sort());
  t.is(report.prisms.length, c.info.prisms.length);
  // --cluster names the file from anywhere; a flag still wins over it.
  const named = await ooseWith(["status", "--no-inventory", "--cluster", path.join(dir, ".oose", "cluster.json")]);
  t.is(named.code, 0, named.stderr);
  t.regex(named.stdout, /store4/);
  const wrong = await ooseWith(["status", "--json", "--couchdb", "http://127.0.0.1:9"], {}, dir);
  t.not(wrong.code, 0, "the --couchdb flag is used, not the file's");
});

test.serial("backup, wipe CouchDB and Redis, restore: files, purchases and sessions work again", async (t) => {
  t.timeout(600_000);
  const c = cluster();
  const admin = await loggedIn(c);
  const added = await oose(c, "prism1", ["user", "add", "alice"]);
  t.is(added.code, 0, added.stderr);
  const password = /password: (\S+)/.exec(added.stdout)![1]!;
  const alice = new PrismClient({ baseUrl: c.info.prisms[1]!.url });
  await alice.login("alice", password);
  const files = [...(await storeFiles(admin, 4, 3000)), ...(await storeFiles(alice, 3, 2000))];
  t.deepEqual(await allDeliver(files), []);
  const redis = redisOf();
  try {
    const ttlBefore = await redis.pttl(`oose:purchase:${files[0]!.token}`);

    const archive = path.join(work, "cluster.oose.gz");
    const dry = await oose(c, "prism1", ["backup", archive, "--dry-run", "--json"]);
    t.is(dry.code, 0, dry.stderr);
    t.throws(() => statSync(archive), undefined, "a dry run writes no file");
    // A session that expires between backup and restore.
    await redis.set("oose:session:short-lived", JSON.stringify({ data: { userCtx: { name: "alice" } } }), "PX", 10_000);
    const made = await oose(c, "prism1", ["backup", archive]);
    t.is(made.code, 0, made.stderr);
    t.regex(made.stdout, /mode 0600/);
    t.is(statSync(archive).mode & 0o777, 0o600);
    const counts = json(await oose(c, "prism1", ["backup", path.join(work, "second.oose.gz"), "--json"])).counts;
    t.true(counts.inventory >= files.length * 2, JSON.stringify(counts));
    t.true(counts.purchase >= files.length);
    t.true(counts._users >= 2);
    await until(
      "the short session to expire",
      async () => (await redis.exists("oose:session:short-lived")) === 0,
      15_000,
    );

    // Lose everything: CouchDB's OOSE databases, the users, and Redis.
    const couch = nano(c.info.couchdb);
    for (const db of OOSE_DBS) await couch.db.destroy(db);
    const users = couch.use("_users");
    for (const row of (await users.list({ startkey: "org.couchdb.user:", endkey: "org.couchdb.user:\ufff0" })).rows)
      await users.destroy(row.id, row.value.rev);
    await redis.flushall();

    // Damaged and foreign archives: refused, and nothing written.
    const bytes = readFileSync(archive);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)]! ^= 0xff;
    const bad: [string, Buffer][] = [
      ["truncated", bytes.subarray(0, Math.floor(bytes.length * 0.6))],
      ["flipped", flipped],
      ["foreign", gzipSync('{"hello":"world"}\n')],
      ["plain", Buffer.from('{"format":"oose-backup"}\n')],
    ];
    for (const [name, data] of bad) {
      const file = path.join(work, `${name}.gz`);
      writeFileSync(file, data);
      const run = await oose(c, "prism1", ["restore", file]);
      t.is(run.code, 1, `${name}: ${run.stdout}${run.stderr}`);
      t.regex(run.stderr, /REFUSED: .*Nothing was restored/, name);
    }
    t.false((await couch.db.list()).includes("oose-inventory"), "no database was made by a refused restore");
    t.deepEqual(await purchaseKeys(redis), []);

    const preview = await oose(c, "prism1", ["restore", archive, "--dry-run", "--json"]);
    t.is(preview.code, 0, preview.stderr);
    t.is(json(preview).docs.inventory.created, counts.inventory, "every copy and the design docs");
    t.deepEqual(await purchaseKeys(redis), [], "a dry run writes nothing");

    const restored = await oose(c, "prism1", ["restore", archive, "--json"]);
    t.is(restored.code, 0, restored.stderr);
    const r = json(restored);
    t.like(r.docs.inventory, { created: counts.inventory, failed: 0 });
    t.like(r.keys.purchase, { restored: counts.purchase, failed: 0 });
    t.true(r.keys.session.expired >= 1, "the expired session is skipped");
    t.is(await redis.exists("oose:session:short-lived"), 0);
    const ttlAfter = await redis.pttl(`oose:purchase:${files[0]!.token}`);
    t.true(ttlAfter > 0 && ttlAfter <= ttlBefore, `${ttlAfter} of ${ttlBefore}`);

    t.deepEqual(await allDeliver(files), []);
    t.like(await admin.validate(), { success: "Session valid" });
    t.like(await alice.validate(), { success: "Session valid" });
    const again = new PrismClient({ baseUrl: c.info.prisms[0]!.url });
    await again.login("alice", password);
    t.is((await again.list()).files.length, 3, "alice's uploads are hers again");

    // Twice: the same result, nothing duplicated.
    const second = json(await oose(c, "prism1", ["restore", archive, "--json"]));
    for (const part of ["inventory", "owner", "_users"])
      t.like(second.docs[part], { created: 0, updated: 0, failed: 0 }, part);
    // Keys that already hold the archive's value are left, and no prism is told to drop them.
    t.like(second.keys.purchase, { restored: 0, unchanged: counts.purchase, failed: 0 });
    t.is((await couch.use("oose-inventory").list()).rows.length, counts.inventory);
    t.deepEqual(await allDeliver(files), []);

    // Keys the archive does not know stay, unless --prune.
    const extra = `oose:purchase:${"X".repeat(64)}`;
    await redis.hset(extra, {
      hash: files[0]!.hash,
      ext: "bin",
      referrer: "",
      life: "60000",
      expirationDate: String(Date.now() + 60_000),
    });
    await redis.pexpire(extra, 60_000);
    t.is((await oose(c, "prism1", ["restore", archive, "--json"])).code, 0);
    t.is(await redis.exists(extra), 1);
    const prunePreview = json(await oose(c, "prism1", ["restore", archive, "--prune", "--dry-run", "--json"]));
    t.is(prunePreview.pruned.purchase, 1);
    t.is(await redis.exists(extra), 1);
    const pruned = await oose(c, "prism1", ["restore", archive, "--prune", "--json"]);
    t.is(pruned.code, 0, pruned.stderr);
    t.is(json(pruned).pruned.purchase, 1);
    t.is(await redis.exists(extra), 0);
    t.deepEqual(await allDeliver(files), []);
  } finally {
    redis.disconnect();
  }
});

test.serial("a lost inventory database is rebuilt from the disks by oose inventory scan", async (t) => {
  t.timeout(300_000);
  const c = cluster();
  const files = await storeFiles(await loggedIn(c), 4, 1500);
  await nano(c.info.couchdb).db.destroy("oose-inventory");
  for (const s of c.info.stores) {
    const run = await oose(c, s.name, ["inventory", "scan", "--store", s.name, "--json"]);
    t.is(run.code, 0, run.stderr);
    t.like(json(run).counts, { created: filesOn(c, s.name).size, errors: 0 });
  }
  t.deepEqual(await allDeliver(files), []);
  const views = await nano(c.info.couchdb).use("oose-inventory").get("_design/inventory");
  t.truthy(views, "the views are back");
});

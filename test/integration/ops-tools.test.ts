import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, statfsSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import test from "ava";
import { Redis } from "ioredis";
import { relativePath } from "../../app/core/layout.js";
import { useCluster } from "../helpers/cluster.js";
import { couchDb, filesOn, json, oose, putOn, sha1 } from "../helpers/ops.js";
import { holdersOnDisk, inventoryOf, loggedIn, storeRoot } from "../helpers/prism.js";

// The operator tools on a real 2-prism, 4-store cluster: inventory scan and
// verify against changes made behind the inventory's back, clonetool raising
// and trimming copy counts (pretend first), --drop's guard, `oose status`
// against the disks, and purchases prune. Stores: store1 (prism1, zone1),
// store2 (prism1, zone2), store3 (prism2, zone1), store4 (prism2, zone2).

const cluster = useCluster(test);

test.serial(
  "inventory scan records files added behind its back and forgets removed ones; --dry-run first",
  async (t) => {
    const c = cluster();
    const content = path.join(storeRoot(c, "store1"), "content");
    // A copy the inventory knows, then removed from disk by hand.
    const gone = await putOn(c, ["store1"], randomBytes(3000), "txt");
    unlinkSync(path.join(content, relativePath(gone, "txt")));
    // A doc that drifted: OOSE's scanner stored the extension with its dot.
    const drifted = await putOn(c, ["store1"], randomBytes(2000), "jpg");
    const db = couchDb(c);
    const doc = await db.get(`${drifted}:prism1:store1`);
    await db.insert({ ...doc, mimeExtension: ".jpg", size: 1 });
    // Two files copied in by hand, and one file that is not content.
    const added = [randomBytes(5000), randomBytes(7000)].map((data, i) => {
      const hash = sha1(data);
      const file = path.join(content, relativePath(hash, i === 0 ? "mp4" : "png"));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, data);
      return hash;
    });
    writeFileSync(path.join(content, "notes.txt"), "not content");

    const dry = await oose(c, "store1", ["inventory", "scan", "--store", "store1", "--dry-run", "--json"]);
    t.is(dry.code, 0, dry.stderr);
    t.like(json(dry).counts, { created: 2, updated: 1, removed: 1, invalid: 1, errors: 0 });
    t.is((await inventoryOf(c, added[0]!)).length, 0, "the dry run wrote nothing");
    t.is((await inventoryOf(c, gone)).length, 1, "the dry run removed nothing");

    const run = await oose(c, "store1", ["inventory", "scan", "--store", "store1", "--json"]);
    t.is(run.code, 0, run.stderr);
    const r = json(run);
    t.like(r.counts, { created: 2, updated: 1, removed: 1, invalid: 1, errors: 0 });
    t.is(r.counts.valid + r.counts.created + r.counts.updated, r.counts.files);
    t.is((await inventoryOf(c, gone)).length, 0);
    const [mp4] = await inventoryOf(c, added[0]!);
    t.like(mp4, { store: "store1", prism: "prism1", size: 5000, mimeExtension: "mp4", mimeType: "video/mp4" });
    t.is(mp4!.relativePath, relativePath(added[0]!, "mp4"));
    t.like((await inventoryOf(c, added[1]!))[0], { size: 7000, mimeType: "image/png" });
    t.like((await inventoryOf(c, drifted))[0], { mimeExtension: "jpg", size: 2000 });

    // Re-running over an unchanged disk changes nothing, however many threads walk it.
    const again = json(await oose(c, "store1", ["inventory", "scan", "--store", "store1", "--walkers", "3", "--json"]));
    t.like(again.counts, { created: 0, updated: 0, removed: 0, valid: r.counts.files, errors: 0 });

    // Without --json: a summary for people, and the counts.
    const human = await oose(c, "store1", ["inventory", "scan", "--store", "store1"]);
    t.is(human.code, 0);
    t.regex(human.stdout, /valid\s+\d+/);
    t.regex(human.stdout, /OK\s*$/);
  },
);

test.serial("inventory scan refuses to empty the inventory of a disk that looks unmounted", async (t) => {
  const c = cluster();
  const hashes: string[] = [];
  for (let i = 0; i < 12; i++) hashes.push(await putOn(c, ["store4"], randomBytes(500 + i)));
  const content = path.join(storeRoot(c, "store4"), "content");
  renameSync(content, `${content}.away`);
  mkdirSync(content);
  try {
    const run = await oose(c, "store4", ["inventory", "scan", "--store", "store4", "--json"]);
    t.is(run.code, 1);
    const r = json(run);
    t.regex(r.refused, /missing disk/);
    t.is(r.counts.removed, 0);
    for (const h of hashes) t.is((await inventoryOf(c, h)).length, 1);
  } finally {
    rmSync(content, { recursive: true, force: true });
    renameSync(`${content}.away`, content);
  }
});

test.serial("inventory verify re-hashes what is due and removes a corrupt copy with its doc", async (t) => {
  const c = cluster();
  const data = randomBytes(64 * 1024);
  const good = await putOn(c, ["store2"], randomBytes(10_000), "bin");
  const hash = await putOn(c, ["store2"], data, "bin");
  const file = path.join(storeRoot(c, "store2"), "content", relativePath(hash, "bin"));
  const bad = Buffer.from(data);
  bad[100] = bad[100]! ^ 0xff;
  writeFileSync(file, bad);
  const args = ["inventory", "verify", "--store", "store2", "--json"];

  // Just verified by the upload: not due yet, so not hashed.
  const fresh = json(await oose(c, "store2", args));
  t.like(fresh.counts, { corrupt: 0, errors: 0 });
  t.true(fresh.counts.fresh >= 1);

  const dry = await oose(c, "store2", [...args, "--force", "--dry-run"]);
  t.is(dry.code, 0, dry.stderr);
  t.like(json(dry).counts, { corrupt: 1 });
  t.true(existsSync(file), "the dry run removed nothing");

  // With a verifyExpiration of 0 everything is due.
  const run = await oose(c, "store2", args, { OOSE_VERIFY_EXPIRATION: "0" });
  t.is(run.code, 0, run.stderr);
  const r = json(run);
  t.like(r.counts, { corrupt: 1, errors: 0 });
  t.deepEqual(
    r.corrupt.map((x: { hash: string }) => x.hash),
    [hash],
  );
  t.true(r.counts.ok >= 1);
  t.false(existsSync(file));
  t.is((await inventoryOf(c, good))[0]?.store, "store2", "a good copy stays");
  t.is((await inventoryOf(c, hash)).length, 0);
});

test.serial("clonetool brings a 1-copy file to 2 across failure domains; --pretend changes nothing", async (t) => {
  const c = cluster();
  const data = randomBytes(8 * 1024 * 1024);
  const hash = await putOn(c, ["store3"], data, "mp4");
  const pretend = await oose(c, "prism1", ["clonetool", "--hash", hash, "--pretend", "--json"]);
  t.is(pretend.code, 0, pretend.stderr);
  t.like(json(pretend).summary, { files: 1, needCopies: 1, copiesWanted: 1 });
  t.is(holdersOnDisk(c, relativePath(hash, "mp4")).size, 1, "pretend copied nothing");

  const run = await oose(c, "prism1", ["clonetool", "--hash", hash, "--json"]);
  t.is(run.code, 0, run.stderr);
  const r = json(run);
  t.like(r.results, { copied: 1, copyFailed: 0 });
  t.is(r.results.transfer.bytes, data.length);
  t.true(r.results.transfer.mibPerSecond > 0);
  t.log(`clonetool transfer: ${(data.length / 1024 ** 2).toFixed(0)} MiB at ${r.results.transfer.mibPerSecond} MiB/s`);
  const holders = holdersOnDisk(c, relativePath(hash, "mp4"));
  t.deepEqual([...holders.keys()].sort(), ["store2", "store3"], "other prism and other zone than store3");
  for (const bytes of holders.values()) t.true(bytes.equals(data));
  t.deepEqual((await inventoryOf(c, hash)).map((d) => d.store).sort(), ["store2", "store3"]);

  // Nothing left to do: a re-run is a no-op.
  t.like(json(await oose(c, "prism1", ["clonetool", "--hash", hash, "--json"])).summary, {
    needCopies: 0,
    unchanged: 1,
  });
});

test.serial("clonetool trims a 3-copy file to 2; --pretend changes nothing", async (t) => {
  const c = cluster();
  const data = randomBytes(100_000);
  const hash = await putOn(c, ["store1", "store2", "store3"], data);
  const args = ["clonetool", "--hash", hash, "--desired", "2", "--above", "2", "--json"];
  const pretend = await oose(c, "prism2", [...args, "--pretend"]);
  t.is(pretend.code, 0, pretend.stderr);
  t.like(json(pretend).summary, { needFewer: 1, removalsWanted: 1 });
  t.is(holdersOnDisk(c, relativePath(hash, "bin")).size, 3);

  const run = await oose(c, "prism2", args);
  t.is(run.code, 0, run.stderr);
  t.like(json(run).results, { removed: 1, removeFailed: 0 });
  const left = [...holdersOnDisk(c, relativePath(hash, "bin")).keys()].sort();
  t.is(left.length, 2);
  // store1 and store2 share prism1: one of them goes, so both prisms keep a copy.
  t.true(left.includes("store3"));
  t.deepEqual((await inventoryOf(c, hash)).map((d) => d.store).sort(), left);
});

test.serial("--drop without --force is refused; with it, the named copy goes; --detail shows holders", async (t) => {
  const c = cluster();
  const hash = await putOn(c, ["store1", "store4"], randomBytes(4096));
  const refused = await oose(c, "prism1", ["clonetool", "--hash", hash, "--drop", "store4"]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /--force/);
  t.is(holdersOnDisk(c, relativePath(hash, "bin")).size, 2);

  const detail = json(await oose(c, "prism1", ["clonetool", "--detail", hash, "--json"]));
  t.like(detail, { hash, exists: true, count: 2, extension: "bin", size: 4096 });
  // Both prisms have the hash in their existence caches now.
  const prisms = [await loggedIn(c, 0), await loggedIn(c, 1)];
  for (const p of prisms) t.is((await p.detail(hash)).count, 2);

  const dropped = await oose(c, "prism1", ["clonetool", "--hash", hash, "--drop", "store4", "--force", "--json"]);
  t.is(dropped.code, 0, dropped.stderr);
  t.deepEqual([...holdersOnDisk(c, relativePath(hash, "bin")).keys()], ["store1"]);
  // The prisms' existence caches heard about it: both answer with one copy at once.
  for (const p of prisms) t.is((await p.detail(hash)).count, 1);
  const unknown = await oose(c, "prism1", ["clonetool", "--detail", "0".repeat(40)]);
  t.is(unknown.code, 1);
});

test.serial("clonetool --store and --input read their hashes; bad input lines are counted", async (t) => {
  const c = cluster();
  const a = await putOn(c, ["store4"], randomBytes(1000));
  const run = await oose(c, "prism1", ["clonetool", "--store", "store4", "--pretend", "--json"]);
  t.is(run.code, 0, run.stderr);
  const s = json(run).summary;
  t.true(s.files >= 1);
  t.true(s.needCopies >= 1, JSON.stringify(s));
  const dir = path.join(c.dataDir, "clonetool-input");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "list.txt"), `${a}\nnot-a-hash\n\n${a}\n`);
  const list = json(
    await oose(c, "prism1", ["clonetool", "--input", path.join(dir, "list.txt"), "--pretend", "--json"]),
  );
  t.like(list.summary, { files: 1, invalid: 1, needCopies: 1 });
  const two = await oose(c, "prism1", ["clonetool", "--hash", a, "--store", "store4"]);
  t.is(two.code, 2, "one source at a time");
});

test.serial("oose status --json matches the disks", async (t) => {
  const c = cluster();
  const res = await oose(c, "prism1", ["status", "--json"]);
  t.is(res.code, 0, res.stderr + res.stdout);
  const s = json(res);
  t.is(s.prisms.length, 2);
  t.is(s.stores.length, 4);
  // Copies per hash, from the disks alone.
  const copies = new Map<string, number>();
  for (const st of s.stores) {
    t.true(st.live, st.name);
    const disk = filesOn(c, st.name);
    t.is(st.copies, disk.size, `${st.name}: copies recorded = files on disk`);
    t.is(
      st.bytes,
      [...disk.values()].reduce((a, b) => a + b, 0),
      `${st.name}: bytes`,
    );
    const fs = statfsSync(storeRoot(c, st.name));
    t.is(st.disk.total, fs.blocks * fs.bsize, `${st.name}: disk size`);
    for (const h of disk.keys()) copies.set(h, (copies.get(h) ?? 0) + 1);
  }
  // Every hash counted once; the 1-copy files (scan's, --drop's, --store's) are under-replicated.
  t.is(s.inventory.hashes, copies.size);
  t.is(
    s.inventory.copies,
    [...copies.values()].reduce((a, b) => a + b, 0),
  );
  t.is(s.inventory.underReplicated, [...copies.values()].filter((n) => n < 2).length);
  t.true(s.inventory.underReplicated >= 3);
  t.is(s.inventory.unavailable, 0);

  const table = await oose(c, "prism1", ["status"]);
  t.is(table.code, 0);
  t.regex(table.stdout, /under-replicated\s+\d+/);
  t.regex(table.stdout, /store4/);
});

test.serial(
  "purchases prune: TTL-less legacy purchases get their expiry, expired ones go; --dry-run first",
  async (t) => {
    const c = cluster();
    const redis = new Redis({ sentinels: c.info.redis.sentinels, name: c.info.redis.name });
    try {
      const now = Date.now();
      const fields = (exp: number) => ({
        hash: "a".repeat(40),
        ext: "mp4",
        referrer: "",
        life: "1000",
        expirationDate: String(exp),
      });
      const live = `oose:purchase:${"L".repeat(64)}`;
      const old = `oose:purchase:${"O".repeat(64)}`;
      await redis.hset(live, fields(now + 3_600_000));
      await redis.hset(old, fields(now - 30 * 86_400_000));
      await redis.set("oose:purchase:cache:x", "not a purchase");

      const dry = await oose(c, "prism1", ["purchases", "prune", "--dry-run", "--json"]);
      t.is(dry.code, 0, dry.stderr);
      t.like(json(dry), { ttlSet: 1, deleted: 1, errors: 0 });
      t.is(await redis.pttl(live), -1);
      t.is(await redis.exists(old), 1);

      const run = await oose(c, "prism1", ["purchases", "prune", "--json"]);
      t.is(run.code, 0, run.stderr);
      t.like(json(run), { ttlSet: 1, deleted: 1 });
      const ttl = await redis.pttl(live);
      // expirationDate + afterlife (2 h by default) from now.
      t.true(ttl > 3_600_000 + 7_000_000 && ttl <= 3_600_000 + 7_200_000, String(ttl));
      t.is(await redis.exists(old), 0);
      t.is(await redis.get("oose:purchase:cache:x"), "not a purchase");

      const again = json(await oose(c, "prism1", ["purchases", "prune", "--json"]));
      t.like(again, { ttlSet: 0, deleted: 0 });
    } finally {
      redis.disconnect();
    }
  },
);

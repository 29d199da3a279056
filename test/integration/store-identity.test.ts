import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import test from "ava";
import nano from "nano";
import type { PeerDoc } from "../../app/core/peer.js";
import { MARKER } from "../../app/store/identity.js";
import { useCluster } from "../helpers/cluster.js";
import { json, oose, putOn } from "../helpers/ops.js";
import { FOX, FOX_SHA1, inventoryOf, loggedIn, storeRoot } from "../helpers/prism.js";

// A store knows its own disk: a marker written at first start. A store whose
// data root is empty and unmarked while the inventory records copies on it (an
// unmounted disk), or that is pointed at another store's disk, does not start;
// `oose store adopt` accepts a replaced disk. `oose inventory verify` keeps the
// docs of a disk that looks unmounted, as scan does.

const cluster = useCluster(test, { prisms: 1, storesPerPrism: 2 });

const marker = (dataRoot: string) => JSON.parse(readFileSync(path.join(dataRoot, MARKER), "utf8"));
const peer = (store: string) =>
  nano(cluster().info.couchdb).use<PeerDoc>("oose-peer").get(`store:prism1:${store}`);

/** Restarts a store that must refuse: its exit code and what it logged. */
async function refusedStart(store: string): Promise<{ code: number | null; log: string }> {
  const c = cluster();
  const before = readFileSync(c.procs[store]!.logFile, "utf8").length;
  await cluster().restart(store).then(
    () => {
      throw new Error(`${store} started`);
    },
    (err: Error) => {
      if (!/exited before it was ready/.test(err.message)) throw err;
    },
  );
  const code = await c.procs[store]!.exited;
  return { code, log: readFileSync(c.procs[store]!.logFile, "utf8").slice(before) };
}

test.serial("each store writes a marker naming itself at first start", (t) => {
  const c = cluster();
  const ids = new Set<string>();
  for (const s of c.info.stores) {
    const m = marker(storeRoot(c, s.name));
    t.like(m, { name: s.name, prism: "prism1" });
    t.regex(m.id, /^[0-9a-f-]{36}$/);
    t.false(Number.isNaN(Date.parse(m.createdAt)));
    ids.add(m.id);
  }
  t.is(ids.size, c.info.stores.length);
});

test.serial("an emptied, unmarked disk the inventory has copies on is refused until adopted", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  await client.upload([{ name: "fox.txt", data: FOX, type: "text/plain" }]);
  t.true((await inventoryOf(c, FOX_SHA1)).some((d) => d.store === "store2"));
  const root = storeRoot(c, "store2");
  await c.procs.store2!.stop();
  // What an unmounted disk leaves: an empty mount point.
  renameSync(root, `${root}.away`);
  mkdirSync(root);
  try {
    const { code, log } = await refusedStart("store2");
    t.not(code, 0);
    t.regex(log, /has no oose-store\.json and no content, but the inventory records copies on store2/);
    t.regex(log, /DISK_NOT_RECOGNISED/);
    t.deepEqual(readdirSync(root), [], "nothing was created on the wrong disk");
    t.false((await peer("store2")).available, "the cluster does not route to it");

    const adopted = await oose(c, "store2", ["store", "adopt", "--json"]);
    t.is(adopted.code, 0, adopted.stderr);
    const r = json(adopted);
    t.is(r.before, null);
    t.like(r.after, { name: "store2", prism: "prism1" });
    t.deepEqual(marker(root), r.after);
    await c.restart("store2");
    t.true((await peer("store2")).available);
  } finally {
    await c.procs.store2!.stop();
    rmSync(root, { recursive: true, force: true });
    renameSync(`${root}.away`, root);
  }
  // The original disk, still marked as store2's, is recognised again.
  await c.restart("store2");
  t.true((await peer("store2")).available);
});

test.serial("a store pointed at another store's disk refuses it", async (t) => {
  const c = cluster();
  const own = c.env.store1!.OOSE_DATA_ROOT!;
  const other = storeRoot(c, "store2");
  const theirs = marker(other);
  await c.procs.store1!.stop();
  c.env.store1!.OOSE_DATA_ROOT = other;
  try {
    const { code, log } = await refusedStart("store1");
    t.not(code, 0);
    t.regex(log, /is the disk of store store2 \(prism prism1\), not of store1 \(prism prism1\)/);
    t.deepEqual(marker(other), theirs, "the other store's marker is untouched");
  } finally {
    c.env.store1!.OOSE_DATA_ROOT = own;
  }
  await c.restart("store1");
  t.true((await peer("store1")).available);
});

test.serial("inventory verify keeps the docs of a disk that looks unmounted, unless --force-missing", async (t) => {
  const c = cluster();
  const hashes: string[] = [];
  for (let i = 0; i < 12; i++) hashes.push(await putOn(c, ["store1"], randomBytes(500 + i)));
  const content = path.join(storeRoot(c, "store1"), "content");
  renameSync(content, `${content}.away`);
  mkdirSync(content);
  const args = ["inventory", "verify", "--store", "store1", "--json"];
  const due = { OOSE_VERIFY_EXPIRATION: "0" };
  try {
    const run = await oose(c, "store1", args, due);
    t.is(run.code, 1, run.stderr);
    const r = json(run);
    t.regex(r.refused, /missing disk/);
    t.true(r.counts.missing >= hashes.length);
    for (const h of hashes) t.is((await inventoryOf(c, h)).length, 1, h);

    const forced = await oose(c, "store1", [...args, "--force-missing"], due);
    t.is(forced.code, 0, forced.stderr);
    t.is(json(forced).refused, undefined);
    for (const h of hashes) t.is((await inventoryOf(c, h)).length, 0, h);
  } finally {
    rmSync(content, { recursive: true, force: true });
    renameSync(`${content}.away`, content);
  }
  t.true(existsSync(path.join(storeRoot(c, "store1"), MARKER)));
});

import { randomBytes } from "node:crypto";
import { unlinkSync } from "node:fs";
import path from "node:path";
import test from "ava";
import nano from "nano";
import { type Couch, openCouch } from "../../app/adapters/couch/index.js";
import { addUser } from "../../app/adapters/couch/users.js";
import type { InventoryDoc } from "../../app/core/inventory.js";
import { relativePath } from "../../app/core/layout.js";
import { useCluster } from "../helpers/cluster.js";
import { holders, type Stored, until } from "../helpers/fault.js";
import { putOn } from "../helpers/ops.js";
import { inventoryOf, storeRoot } from "../helpers/prism.js";

// Content list and delete on a real cluster (2 prisms, 4 stores, replicas 2):
// a user's files newest first with a stable cursor, deletes that leave no copy
// on any disk and no inventory doc, purchases and signed URLs that stop
// working on every prism, ownership shared by two users, admin takedowns, and
// a takedown the heal job is racing. Prisms keep existence answers a minute
// here, so only the change notices can make them see a delete.

const cluster = useCluster(test, {
  extraEnv: (node): Record<string, string> =>
    node.role === "prism" ? { OOSE_EXISTS_CACHE_LIFE: "60000", OOSE_HEAL__INTERVAL: "200", OOSE_HEAL__GRACE: "0" } : {},
});

type Json = Record<string, unknown>;
let couch: Couch;
const tokens = new Map<string, string>();

test.before(async () => {
  couch = openCouch({ url: cluster().info.couchdb, database: "oose", timeoutMs: 10_000 });
  for (const name of ["alice", "bob"]) await addUser(couch, name, `${name}-password-1`);
  await addUser(couch, "ops", "ops-password-1", ["admin"]);
});
test.after.always(() => couch?.close());

const prismUrl = (i = 0) => cluster().info.prisms[i]!.url;

async function call(path: string, body: Json, auth: string, prism = 0): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${prismUrl(prism)}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(await headers(auth)) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/** `admin` is the prism's basic auth; any other name a session of that user. */
async function headers(who: string): Promise<Record<string, string>> {
  if (who === "admin") return cluster().prismAuth();
  if (!tokens.has(who)) {
    const res = await fetch(`${prismUrl()}/user/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: who, password: `${who}-password-1` }),
    });
    tokens.set(who, ((await res.json()) as { session: { token: string } }).session.token);
  }
  return { "x-oose-token": tokens.get(who)! };
}

async function upload(who: string, data: Buffer, name = "f.txt", type = "text/plain") {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(data)], { type }), name);
  const res = await fetch(`${prismUrl()}/content/upload`, { method: "POST", headers: await headers(who), body: form });
  if (res.status !== 200) throw new Error(`upload ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { files: { file: { hash: string; ext: string } } }).files.file;
}

const stored = (hash: string, ext: string) => ({ hash, relativePath: relativePath(hash, ext) }) as Stored;

async function buy(who: string, hash: string, ext: string): Promise<string> {
  const res = await call("/content/purchase", { hash, ext, life: 3_600_000 }, who);
  return String(res.body.token);
}

/** A delivery from prism `i`: its status and, for a redirect, the signed URL. */
async function deliver(token: string, i: number): Promise<{ status: number; location?: string }> {
  const res = await fetch(`${prismUrl(i)}/${token}/video.txt`, { redirect: "manual" });
  await res.arrayBuffer();
  return { status: res.status, location: res.headers.get("location") ?? undefined };
}

async function gone(t: import("ava").ExecutionContext, hash: string, ext: string): Promise<void> {
  t.deepEqual(holders(cluster(), stored(hash, ext)), [], "no copy on any store's disk");
  t.deepEqual(await inventoryOf(cluster(), hash), [], "no inventory doc");
}

test.serial(
  "list: newest first with sizes, types and copies; the cursor holds while another upload lands",
  async (t) => {
    const sizes = [10, 2000, 300, 44];
    const files: string[] = [];
    for (const [i, n] of sizes.entries()) {
      files.push((await upload("alice", randomBytes(n), `f${i}.${i % 2 ? "bin" : "txt"}`, "text/plain")).hash);
      await new Promise((r) => setTimeout(r, 5));
    }
    const first = await call("/content/list", { limit: 2 }, "alice");
    t.is(first.status, 200, JSON.stringify(first.body));
    const page1 = first.body.files as Array<{
      hash: string;
      size: number;
      ext: string;
      mimeType: string;
      copies: number;
    }>;
    t.deepEqual(
      page1.map((f) => f.hash),
      [files[3], files[2]],
    );
    t.like(page1[0], { size: 44, ext: "bin", copies: 2 });
    t.like(page1[1], { size: 300, ext: "txt", mimeType: "text/plain", copies: 2 });
    await upload("alice", randomBytes(77));
    const second = await call("/content/list", { limit: 2, cursor: first.body.next }, "alice", 1);
    t.deepEqual(
      (second.body.files as Array<{ hash: string }>).map((f) => f.hash),
      [files[1], files[0]],
    );
    t.like((second.body.files as Json[])[0], { size: 2000, ext: "bin", mimeType: "application/octet-stream" });
    const bobs = await call("/content/list", {}, "bob");
    t.deepEqual(bobs.body, { files: [] });
    const byAdmin = await call("/content/list", { owner: "alice", limit: 1000 }, "admin");
    t.is((byAdmin.body.files as Json[]).length, 5);
  },
);

test.serial(
  "a delete removes every copy and doc; purchases 404 on every prism; a signed URL stops working",
  async (t) => {
    const data = randomBytes(5000);
    const { hash, ext } = await upload("alice", data, "v.txt");
    const token = await buy("alice", hash, ext);
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await deliver(token, i);
      t.is(d.status, 302);
      urls.push(d.location!);
    }
    t.is((await fetch(urls[0]!)).status, 200, "the signed URL works before the delete");
    const refused = await call("/content/delete", { hash }, "bob");
    t.is(refused.status, 404);
    t.is(refused.body.code, "CONTENT_NOT_FOUND");
    t.is(holders(cluster(), stored(hash, ext)).length, 2, "bob's delete changed nothing");
    const res = await call("/content/delete", { hash }, "alice", 1);
    t.is(res.status, 200, JSON.stringify(res.body));
    t.like(res.body, { hash, deleted: true, owners: 0 });
    t.is((res.body.removed as string[]).length, 2);
    await gone(t, hash, ext);
    for (let i = 0; i < 2; i++) t.is((await deliver(token, i)).status, 404, `prism ${i + 1} answers 404 at once`);
    // The store nginx revalidates its open-file cache every 10 s: by then the signed URLs find no file.
    for (const url of urls)
      await until("the store nginx answers 404", async () => (await fetch(url)).status === 404, 12_000);
    t.pass("signed URLs stopped working");
    t.false(
      ((await call("/content/list", { limit: 1000 }, "alice")).body.files as Json[]).some((f) => f.hash === hash),
    );
  },
);

test.serial(
  "two owners: the first one's delete leaves the file; an admin takedown removes it regardless",
  async (t) => {
    const data = randomBytes(3000);
    const { hash, ext } = await upload("alice", data);
    await upload("bob", data);
    const first = await call("/content/delete", { hash }, "alice");
    t.deepEqual(first.body, { hash, deleted: false, removed: [], owners: 1 });
    t.is(holders(cluster(), stored(hash, ext)).length, 2);
    const token = await buy("bob", hash, ext);
    t.is((await deliver(token, 1)).status, 302, "still delivered for bob");
    const take = await call("/content/delete", { hash }, "ops");
    t.like(take.body, { deleted: true, owners: 0 });
    await gone(t, hash, ext);
    for (let i = 0; i < 2; i++) t.is((await deliver(token, i)).status, 404);
    t.is((await call("/content/delete", { hash }, "bob")).status, 404, "nothing left to delete");
  },
);

test.serial("a takedown racing the heal: no copy comes back", async (t) => {
  const db = nano(cluster().info.couchdb).use<InventoryDoc>("oose-inventory");
  for (const delay of [0, 100, 300]) {
    const { hash, ext } = await upload("alice", randomBytes(256 * 1024), "big.bin", "application/octet-stream");
    // One copy dropped by hand: the heal wants to copy it back.
    const [victim] = holders(cluster(), stored(hash, ext));
    unlinkSync(path.join(storeRoot(cluster(), victim!), "content", relativePath(hash, ext)));
    const doc = (await inventoryOf(cluster(), hash)).find((d) => d.store === victim) as InventoryDoc & Json;
    await db.destroy(String(doc._id), String(doc._rev));
    await new Promise((r) => setTimeout(r, delay));
    const res = await call("/content/delete", { hash }, "admin");
    t.is(res.status, 200, JSON.stringify(res.body));
    t.like(res.body, { deleted: true });
    const back = await until(
      "a copy comes back",
      async () => holders(cluster(), stored(hash, ext)).length > 0 || (await inventoryOf(cluster(), hash)).length > 0,
      3000,
    ).then(
      () => true,
      () => false,
    );
    t.false(back, `no copy reappears (delay ${delay} ms)`);
    await gone(t, hash, ext);
  }
  // A copy that turns up after a takedown (a store back with it) is one short of replicas: the heal leaves it be.
  const late = randomBytes(2000);
  const lateHash = (await upload("alice", late)).hash;
  t.like((await call("/content/delete", { hash: lateHash }, "admin")).body, { deleted: true });
  const [store] = cluster().info.stores.map((s) => s.name);
  await putOn(cluster(), [store!], late, "txt");
  const healed = await until(
    "the heal copies it",
    async () => holders(cluster(), stored(lateHash, "txt")).length > 1,
    4000,
  ).then(
    () => true,
    () => false,
  );
  t.false(healed, "no copy made of a hash taken down");
  // A later upload of the same bytes is new content: kept, and healed.
  const again = randomBytes(1000);
  const first = await upload("bob", again);
  t.like(await call("/content/delete", { hash: first.hash }, "admin"), { status: 200 });
  await upload("bob", again);
  t.is(holders(cluster(), stored(first.hash, first.ext)).length, 2);
});

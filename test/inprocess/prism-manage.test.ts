import test from "ava";
import {
  assertError,
  basic,
  buildCluster,
  FOX_SHA1,
  type InProcessCluster,
  PRISM_AUTH,
  uploadFile,
} from "../helpers/inprocess.js";

// POST /content/list and /content/delete in-process, over the memory ports:
// their refusals (400, 401, 404), paging newest first, and who may delete what.

const UNKNOWN = "0123456789abcdef0123456789abcdef01234567";
const prismBasic = { authorization: basic(PRISM_AUTH) };

const post = (c: InProcessCluster, url: string, payload: unknown, headers: Record<string, string> = prismBasic) =>
  c.prism.inject({ method: "POST", url, headers, payload: payload as Record<string, unknown> });
const as = (token: string) => ({ "x-oose-token": token });
const held = async (c: InProcessCluster, hash: string) =>
  (await Promise.all(c.stores.map((s) => s.blobs.find(hash)))).filter(Boolean).length;

test("list and delete need a session or the prism's basic auth: 401", async (t) => {
  const c = await buildCluster(t);
  for (const url of ["/content/list", "/content/delete"]) {
    assertError(t, await post(c, url, { hash: FOX_SHA1 }, {}), 401, "UNAUTHORIZED");
    assertError(t, await post(c, url, { hash: FOX_SHA1 }, as("x".repeat(43))), 401, "UNAUTHORIZED");
  }
});

test("list refuses a bad limit, a bad cursor, and basic auth without an owner: 400", async (t) => {
  const c = await buildCluster(t);
  const token = await c.login();
  for (const limit of [0, 1001, 1.5])
    assertError(t, await post(c, "/content/list", { limit }, as(token)), 400, "BAD_REQUEST");
  assertError(t, await post(c, "/content/list", { cursor: "not-a-cursor" }, as(token)), 400, "BAD_REQUEST");
  assertError(t, await post(c, "/content/list", {}), 400, "BAD_REQUEST");
});

test("list: a user's own files newest first, paged; another owner's only for admins", async (t) => {
  const c = await buildCluster(t);
  const alice = await c.login();
  const bob = await c.login("bob", "bob-password-1");
  const hashes: string[] = [];
  for (let i = 0; i < 5; i++) {
    hashes.push((await uploadFile(c, { token: alice }, `file ${i}`)).hash);
    await new Promise((r) => setTimeout(r, 3));
  }
  await uploadFile(c, { token: bob }, "bob's");
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const res = await post(c, "/content/list", { limit: 2, ...(cursor ? { cursor } : {}) }, as(alice));
    t.is(res.statusCode, 200, res.body);
    const page = res.json() as {
      files: Array<{ hash: string; copies: number; size: number; mimeType: string }>;
      next?: string;
    };
    t.true(page.files.length <= 2);
    for (const f of page.files) t.like(f, { copies: 2, size: 6, mimeType: "text/plain" });
    seen.push(...page.files.map((f) => f.hash));
    cursor = page.next;
  } while (cursor);
  t.deepEqual(seen, [...hashes].reverse());
  // A user asking for another owner still sees their own.
  const own = (await post(c, "/content/list", { owner: "bob" }, as(alice))).json();
  t.is(own.files.length, 5);
  const bobs = (await post(c, "/content/list", { owner: "bob" })).json();
  t.is(bobs.files.length, 1);
});

test("delete: 400 for a bad hash, 404 for content unknown or another user's", async (t) => {
  const c = await buildCluster(t);
  const alice = await c.login();
  const bob = await c.login("bob", "bob-password-1");
  await uploadFile(c, { token: alice });
  assertError(t, await post(c, "/content/delete", { hash: "nope" }, as(alice)), 400, "INVALID_HASH");
  assertError(t, await post(c, "/content/delete", {}, as(alice)), 400, "BAD_REQUEST");
  assertError(t, await post(c, "/content/delete", { hash: UNKNOWN }, as(alice)), 404, "CONTENT_NOT_FOUND");
  assertError(t, await post(c, "/content/delete", { hash: UNKNOWN }), 404, "CONTENT_NOT_FOUND");
  assertError(t, await post(c, "/content/delete", { hash: FOX_SHA1 }, as(bob)), 404, "CONTENT_NOT_FOUND");
  t.is(await held(c, FOX_SHA1), 2, "bob's refusal changed nothing");
});

test("delete: two owners, the first one's delete leaves the bytes; the last one's removes every copy", async (t) => {
  const c = await buildCluster(t);
  const alice = await c.login();
  const bob = await c.login("bob", "bob-password-1");
  await uploadFile(c, { token: alice });
  await uploadFile(c, { token: bob });
  const first = await post(c, "/content/delete", { hash: FOX_SHA1 }, as(alice));
  t.deepEqual(first.json(), { hash: FOX_SHA1, deleted: false, removed: [], owners: 1 });
  t.is(await held(c, FOX_SHA1), 2);
  assertError(t, await post(c, "/content/delete", { hash: FOX_SHA1 }, as(alice)), 404, "CONTENT_NOT_FOUND");
  const last = await post(c, "/content/delete", { hash: FOX_SHA1 }, as(bob));
  t.is(last.statusCode, 200, last.body);
  t.like(last.json(), { deleted: true, owners: 0 });
  t.is(last.json().removed.length, 2);
  t.is(await held(c, FOX_SHA1), 0);
  t.deepEqual(await c.backends.inventory.copiesOf(FOX_SHA1), []);
  t.like((await post(c, "/content/detail", { hash: FOX_SHA1 })).json(), { exists: false, count: 0 });
});

test("delete: content admins uploaded stays when a user who uploaded it too lets it go; an admin takes it down", async (t) => {
  const c = await buildCluster(t);
  const alice = await c.login();
  await uploadFile(c, "basic");
  await uploadFile(c, { token: alice });
  t.like((await post(c, "/content/delete", { hash: FOX_SHA1 }, as(alice))).json(), { deleted: false, owners: 0 });
  t.is(await held(c, FOX_SHA1), 2);
  const admin = await c.login("root", "root-password-1", ["admin"]);
  const res = await post(c, "/content/delete", { hash: FOX_SHA1 }, as(admin));
  t.like(res.json(), { deleted: true, owners: 0 });
  t.is(await held(c, FOX_SHA1), 0);
  t.truthy((await c.backends.owners.of(FOX_SHA1)).takedownAt, "marked, so no job copies it back");
});

import { createHash } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { request } from "undici";
import {
  assertError,
  basic,
  buildCluster,
  FOX_SHA1,
  type InProcessCluster,
  PRISM_AUTH,
  STORE_AUTH,
  uploadFile,
} from "../helpers/inprocess.js";

// Purchases in-process: create, find, update, remove, and delivery
// (`GET /:token/:filename`) both through the fastify route (inject) and the
// raw fast path a listening prism answers before fastify.

const UNKNOWN = "0123456789abcdef0123456789abcdef01234567";
const UNKNOWN_TOKEN = "Z".repeat(64);
const prismBasic = { authorization: basic(PRISM_AUTH) };

const post = (c: InProcessCluster, url: string, payload: unknown, headers: Record<string, string> = prismBasic) =>
  c.prism.inject({ method: "POST", url, headers, payload: payload as Record<string, unknown> });

const deliver = (c: InProcessCluster, path: string, headers: Record<string, string> = {}) =>
  c.prism.inject({ method: "GET", url: path, headers });

/** A cluster with the fox uploaded and a session for alice. */
async function withFox(t: ExecutionContext, o: Parameters<typeof buildCluster>[1] = {}) {
  const c = await buildCluster(t, o);
  const token = await c.login();
  await uploadFile(c, { token });
  return { c, session: { "x-oose-token": token } };
}

async function buy(c: InProcessCluster, headers: Record<string, string>, body: Record<string, unknown> = {}) {
  const res = await post(c, "/content/purchase", { hash: FOX_SHA1, ext: "txt", ...body }, headers);
  if (res.statusCode !== 200) throw new Error(`purchase ${res.statusCode}: ${res.body}`);
  return res.json() as { token: string; expirationDate: string; referrer: string; life: string };
}

/** Checks a delivery redirect as the store's nginx would: the holder, the URI and its secure_link md5. */
async function checkRedirect(t: ExecutionContext, c: InProcessCluster, location: string, token: string) {
  const url = new URL(location);
  const holder = c.stores.find((s) => url.origin === new URL(s.url).origin);
  t.truthy(holder, location);
  t.truthy(await holder!.blobs.find(FOX_SHA1), "sent to a store that holds the file");
  const doc = (await c.backends.inventory.copiesOf(FOX_SHA1)).find((d) => d.store === holder!.name)!;
  t.is(url.pathname, `/c/${doc.relativePath}`);
  const expires = Number(url.searchParams.get("expires"));
  const nowSec = Date.now() / 1000;
  t.true(expires > nowSec - 1 && expires <= nowSec + c.prismConfig.purchase.signedUrlLife / 1000 + 1);
  const md5 = createHash("md5").update(`${expires}${url.pathname} ${c.prismConfig.signingKey}`).digest("base64url");
  t.is(url.searchParams.get("md5"), md5);
  t.is(url.searchParams.get("token"), token);
  return url;
}

// ---- POST /content/purchase

test.serial("purchase: 200 with OOSE's string record, owned by the session's user, stored in the port", async (t) => {
  const { c, session } = await withFox(t);
  const before = Date.now();
  const res = await post(
    c,
    "/content/purchase",
    { hash: FOX_SHA1, ext: "txt", referrer: ["Example.com", "*.cdn.test"], life: 60_000 },
    session,
  );
  t.is(res.statusCode, 200, res.body);
  const body = res.json();
  t.regex(body.token, /^[A-Za-z0-9]{64}$/);
  t.like(body, { hash: FOX_SHA1, ext: "txt", referrer: "example.com,*.cdn.test", life: "60000", owner: "alice" });
  const expires = Number(body.expirationDate);
  t.true(expires >= before + 60_000 && expires <= Date.now() + 60_000);
  const stored = await c.backends.purchases.read(body.token);
  t.like(stored, { token: body.token, hash: FOX_SHA1, ext: "txt", owner: "alice", expirationDate: expires });
  t.deepEqual(stored!.referrer, ["example.com", "*.cdn.test"]);
});

test.serial("purchase: the default life, sha1 as hash, no owner under the prism's basic auth", async (t) => {
  const { c } = await withFox(t);
  const res = await post(c, "/content/purchase", { sha1: FOX_SHA1, ext: "TXT" });
  t.is(res.statusCode, 200, res.body);
  const body = res.json();
  t.is(body.life, String(c.prismConfig.purchase.life));
  t.is(body.ext, "txt");
  t.is(body.referrer, "");
  t.false("owner" in body);
  t.is((await c.backends.purchases.read(body.token))?.owner, undefined);
});

test.serial("purchase: unknown content 404, bad hash, ext, life or referrer 400, no credentials 401", async (t) => {
  const { c, session } = await withFox(t, { prism: { purchase: { maxLife: 10_000, waitReplicas: 0 } } });
  assertError(t, await post(c, "/content/purchase", { hash: UNKNOWN, ext: "txt" }, session), 404, "CONTENT_NOT_FOUND");
  assertError(t, await post(c, "/content/purchase", { hash: "xyz", ext: "txt" }, session), 400, "INVALID_HASH");
  assertError(t, await post(c, "/content/purchase", { ext: "txt" }, session), 400, "INVALID_HASH");
  assertError(t, await post(c, "/content/purchase", { hash: FOX_SHA1 }, session), 400, "BAD_REQUEST");
  assertError(
    t,
    await post(c, "/content/purchase", { hash: FOX_SHA1, ext: ".txt" }, session),
    400,
    "INVALID_FILE_NAME",
  );
  const bad = (body: Record<string, unknown>) =>
    post(c, "/content/purchase", { hash: FOX_SHA1, ext: "txt", ...body }, session);
  assertError(t, await bad({ life: 10_001 }), 400, "BAD_REQUEST");
  assertError(t, await bad({ life: 0 }), 400, "BAD_REQUEST");
  assertError(t, await bad({ referrer: ["not a host!"] }), 400, "BAD_REQUEST");
  assertError(t, await bad({ referrer: "example.com" }), 400, "BAD_REQUEST");
  assertError(t, await post(c, "/content/purchase", { hash: FOX_SHA1, ext: "txt" }, {}), 401, "UNAUTHORIZED");
  const storeAuth = { authorization: basic(STORE_AUTH) };
  assertError(t, await post(c, "/content/purchase", { hash: FOX_SHA1, ext: "txt" }, storeAuth), 401, "UNAUTHORIZED");
});

// ---- POST /content/purchase/find

test.serial("find: the owner and the admins find it; another user finds nothing", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session);
  const mine = await post(c, "/content/purchase/find", { token: p.token }, session);
  t.is(mine.statusCode, 200, mine.body);
  t.like(mine.json(), { token: p.token, hash: FOX_SHA1, ext: "txt", owner: "alice", expirationDate: p.expirationDate });
  const admin = await post(c, "/content/purchase/find", { token: p.token });
  t.is(admin.statusCode, 200);
  t.is(admin.json().token, p.token);
  const root = { "x-oose-token": await c.login("root", "root-password-1", ["admin"]) };
  t.is((await post(c, "/content/purchase/find", { token: p.token }, root)).statusCode, 200);
  const bob = { "x-oose-token": await c.login("bob", "bob-password-1") };
  assertError(t, await post(c, "/content/purchase/find", { token: p.token }, bob), 404, "PURCHASE_NOT_FOUND");
});

test.serial("find: bad token 400, unknown 404, missing body 400, no credentials 401", async (t) => {
  const { c, session } = await withFox(t);
  assertError(t, await post(c, "/content/purchase/find", { token: "short" }, session), 400, "INVALID_TOKEN");
  assertError(t, await post(c, "/content/purchase/find", { token: UNKNOWN_TOKEN }, session), 404, "PURCHASE_NOT_FOUND");
  assertError(t, await post(c, "/content/purchase/find", {}, session), 400, "BAD_REQUEST");
  assertError(t, await post(c, "/content/purchase/find", { token: UNKNOWN_TOKEN }, {}), 401, "UNAUTHORIZED");
});

// ---- POST /content/purchase/update

test.serial("update: new referrers and a new life, written to the store and seen by delivery", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session, { referrer: ["a.test"] });
  const before = Date.now();
  const res = await post(
    c,
    "/content/purchase/update",
    { token: p.token, referrer: ["b.test"], life: 120_000 },
    session,
  );
  t.is(res.statusCode, 200, res.body);
  const body = res.json();
  t.like(body, { token: p.token, referrer: "b.test", life: "120000", owner: "alice" });
  t.true(Number(body.expirationDate) >= before + 120_000);
  const stored = await c.backends.purchases.read(p.token);
  t.deepEqual(stored!.referrer, ["b.test"]);
  t.is(stored!.expirationDate, Number(body.expirationDate));
  t.is((await deliver(c, `/${p.token}/fox.txt`, { referer: "http://b.test/" })).statusCode, 302);
  assertError(t, await deliver(c, `/${p.token}/fox.txt`, { referer: "http://a.test/" }), 403, "REFERRER_DENIED");
  // Only what is given changes.
  const lifeOnly = await post(c, "/content/purchase/update", { token: p.token, life: 5000 }, session);
  t.like(lifeOnly.json(), { referrer: "b.test", life: "5000" });
});

test.serial("update: another user 404, unknown 404, bad token or referrer 400", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session);
  const bob = { "x-oose-token": await c.login("bob", "bob-password-1") };
  assertError(
    t,
    await post(c, "/content/purchase/update", { token: p.token, life: 5 }, bob),
    404,
    "PURCHASE_NOT_FOUND",
  );
  t.is((await c.backends.purchases.read(p.token))!.life, c.prismConfig.purchase.life, "unchanged");
  assertError(
    t,
    await post(c, "/content/purchase/update", { token: UNKNOWN_TOKEN, life: 5 }, session),
    404,
    "PURCHASE_NOT_FOUND",
  );
  assertError(t, await post(c, "/content/purchase/update", { token: "bad", life: 5 }, session), 400, "INVALID_TOKEN");
  const badRef = { token: p.token, referrer: ["bad host"] };
  assertError(t, await post(c, "/content/purchase/update", badRef, session), 400, "BAD_REQUEST");
  assertError(t, await post(c, "/content/purchase/update", { token: p.token }, {}), 401, "UNAUTHORIZED");
});

// ---- POST /content/purchase/remove

test.serial("remove: count 1, gone from the store, and delivery answers 404 after", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session);
  t.is((await deliver(c, `/${p.token}/fox.txt`)).statusCode, 302, "delivered first (and cached by the prism)");
  const res = await post(c, "/content/purchase/remove", { token: p.token }, session);
  t.is(res.statusCode, 200, res.body);
  t.deepEqual(res.json(), { token: p.token, count: 1, success: "Purchase removed" });
  t.is(await c.backends.purchases.read(p.token), undefined);
  assertError(t, await deliver(c, `/${p.token}/fox.txt`), 404, "PURCHASE_NOT_FOUND");
  assertError(t, await post(c, "/content/purchase/find", { token: p.token }, session), 404, "PURCHASE_NOT_FOUND");
  // Removing what is gone removes nothing.
  const again = await post(c, "/content/purchase/remove", { token: p.token }, session);
  t.is(again.statusCode, 200, again.body);
  t.is(again.json().count, 0);
});

test.serial("remove: another user's purchase is a 404 and stays; bad token 400; no credentials 401", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session);
  const bob = { "x-oose-token": await c.login("bob", "bob-password-1") };
  assertError(t, await post(c, "/content/purchase/remove", { token: p.token }, bob), 404, "PURCHASE_NOT_FOUND");
  t.truthy(await c.backends.purchases.read(p.token));
  assertError(t, await post(c, "/content/purchase/remove", { token: "nope" }, session), 400, "INVALID_TOKEN");
  assertError(t, await post(c, "/content/purchase/remove", { token: p.token }, {}), 401, "UNAUTHORIZED");
  // The prism's own account removes anyone's.
  t.is((await post(c, "/content/purchase/remove", { token: p.token })).json().count, 1);
});

// ---- GET /:token/:filename

test.serial("deliver: 302 to a holder's /c/ URI, signed as nginx checks it", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session);
  const res = await deliver(c, `/${p.token}/fox.txt`);
  t.is(res.statusCode, 302, res.body);
  const url = await checkRedirect(t, c, String(res.headers.location), p.token);
  t.is(url.searchParams.get("attach"), null);
  t.is(url.searchParams.get("start"), null);
  // HEAD answers the same redirect.
  const head = await c.prism.inject({ method: "HEAD", url: `/${p.token}/fox.txt` });
  t.is(head.statusCode, 302);
  t.truthy(head.headers.location);
});

test.serial("deliver: attach, start, rate and html5 are carried; video gets start=0", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session);
  const res = await deliver(c, `/${p.token}/fox.txt?attach=my%20fox.txt&start=12.5&rate=1000&other=1`);
  t.is(res.statusCode, 302, res.body);
  const url = await checkRedirect(t, c, String(res.headers.location), p.token);
  t.is(url.searchParams.get("attach"), "my fox.txt");
  t.is(url.searchParams.get("start"), "12.5");
  t.is(url.searchParams.get("rate"), "1000");
  t.is(url.searchParams.get("other"), null, "unknown keys are not passed on");
  const html5 = new URL(String((await deliver(c, `/${p.token}/fox.txt?html5=yes`)).headers.location));
  t.is(html5.searchParams.get("html5"), "yes");

  const video = await buy(c, session, { ext: "mp4" });
  const v = new URL(String((await deliver(c, `/${video.token}/clip.mp4`)).headers.location));
  t.is(v.searchParams.get("start"), "0");
  const v5 = new URL(String((await deliver(c, `/${video.token}/clip.mp4?html5`)).headers.location));
  t.is(v5.searchParams.get("start"), null, "no implicit start for html5 players");
});

test.serial("deliver: bad query values are 400s", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session);
  assertError(t, await deliver(c, `/${p.token}/fox.txt?start=-1`), 400, "BAD_REQUEST");
  assertError(t, await deliver(c, `/${p.token}/fox.txt?rate=abc`), 400, "BAD_REQUEST");
  assertError(t, await deliver(c, `/${p.token}/fox.txt?rate=0`), 400, "BAD_REQUEST");
});

test.serial("deliver: referrer rules: exact host, wildcard subdomains, none or another host 403", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session, { referrer: ["site.test", "*.cdn.test"] });
  const at = (referer?: string) => deliver(c, `/${p.token}/fox.txt`, referer === undefined ? {} : { referer });
  t.is((await at("https://site.test/page")).statusCode, 302);
  t.is((await at("http://a.cdn.test/")).statusCode, 302);
  t.is((await at("site.test")).statusCode, 302, "a bare host, as OOSE clients sent");
  assertError(t, await at(), 403, "REFERRER_DENIED");
  assertError(t, await at("https://other.test/"), 403, "REFERRER_DENIED");
  assertError(t, await at("https://cdn.test/"), 403, "REFERRER_DENIED");
  assertError(t, await at("https://evilsite.test/"), 403, "REFERRER_DENIED");
});

test.serial("deliver: an expired purchase is a 410", async (t) => {
  const { c, session } = await withFox(t);
  const p = await buy(c, session, { life: 1 });
  await new Promise((resolve) => setTimeout(resolve, 5));
  assertError(t, await deliver(c, `/${p.token}/fox.txt`), 410, "PURCHASE_EXPIRED");
  // Kept through its afterlife, so the answer is "expired", not "unknown".
  t.truthy(await c.backends.purchases.read(p.token));
});

test.serial("deliver: bad token 400, unknown token 404, bad name 400, content gone 404", async (t) => {
  const { c, session } = await withFox(t);
  assertError(t, await deliver(c, "/short/fox.txt"), 400, "INVALID_TOKEN");
  assertError(t, await deliver(c, `/${UNKNOWN_TOKEN}/fox.txt`), 404, "PURCHASE_NOT_FOUND");
  const p = await buy(c, session);
  assertError(t, await deliver(c, `/${p.token}/a..txt`), 400, "INVALID_FILE_NAME");
  assertError(t, await deliver(c, `/${p.token}/${"n".repeat(300)}`), 400, "BAD_REQUEST");
  // Every copy removed through the stores: the purchase stands, the content does not.
  for (const s of c.stores) {
    const res = await s.app.inject({
      method: "POST",
      url: "/content/remove",
      headers: { authorization: basic(STORE_AUTH) },
      payload: { hash: FOX_SHA1 },
    });
    t.is(res.statusCode, 200, res.body);
  }
  t.is((await c.backends.inventory.copiesOf(FOX_SHA1)).length, 0);
  assertError(t, await deliver(c, `/${p.token}/fox.txt`), 404, "CONTENT_NOT_FOUND");
});

test.serial("deliver: the raw fast path answers as the fastify route does", async (t) => {
  const { c, session } = await withFox(t, { listen: true });
  const p = await buy(c, session, { referrer: ["site.test"] });
  const expired = await buy(c, session, { life: 1 });
  await new Promise((resolve) => setTimeout(resolve, 5));
  const cases: Array<[string, Record<string, string>]> = [
    [`/${p.token}/fox.txt`, { referer: "http://site.test/" }],
    [`/${p.token}/fox.txt?attach=x.txt&rate=10`, { referer: "http://site.test/" }],
    [`/${p.token}/fox.txt`, {}],
    [`/${expired.token}/fox.txt`, {}],
    [`/${UNKNOWN_TOKEN}/fox.txt`, {}],
    [`/${p.token}/a..b`, {}],
  ];
  for (const [path, headers] of cases) {
    const raw = await request(`${c.prismUrl}${path}`, { method: "GET", headers });
    const rawBody = await raw.body.text();
    const viaFastify = await deliver(c, path, headers);
    t.is(raw.statusCode, viaFastify.statusCode, path);
    if (raw.statusCode === 302) {
      const a = new URL(String(raw.headers.location));
      const b = new URL(String(viaFastify.headers.location));
      // Either holder may be picked; the URI is the same.
      t.is(a.pathname, b.pathname);
      t.is(a.searchParams.get("token"), b.searchParams.get("token"));
      t.is(a.searchParams.get("attach"), b.searchParams.get("attach"));
      await checkRedirect(t, c, a.toString(), p.token);
    } else {
      t.regex(String(raw.headers["content-type"]), /^application\/json/);
      t.is(JSON.parse(rawBody).code, viaFastify.json().code, path);
    }
  }
});

import { randomBytes } from "node:crypto";
import test from "ava";
import { request } from "undici";
import { PrismClient } from "../../packages/client/src/index.js";
import { useCluster } from "../helpers/cluster.js";
import { FOX, FOX_SHA1, loggedIn } from "../helpers/prism.js";

// Sessions, purchases and delivery through real prisms, Redis and store nginx.

const cluster = useCluster(test, {
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? { OOSE_PURCHASE__SIGNED_URL_LIFE: "2000" } : {}),
});

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await request(url, { headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, location: res.headers.location as string | undefined, body };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  const client = await loggedIn(cluster());
  await client.upload([{ name: "fox.txt", data: FOX, type: "text/plain" }]);
});

test.serial("login, validate, renew and logout; a logged-out or bogus token gets 401", async (t) => {
  const c = cluster();
  const client = new PrismClient({ baseUrl: c.info.prisms[1]!.url });
  const session = await client.login(c.info.admin.username, c.info.admin.password);
  t.is(session.data.userCtx.name, c.info.admin.username);
  t.like(await client.validate(), { success: "Session valid" });
  t.like(await client.renew(), { token: client.token, data: { userCtx: { name: c.info.admin.username } } });
  t.like(await client.logout(), { success: "User logged out" });
  const after = await t.throwsAsync(client.validate());
  t.is((after as { status?: number }).status, 401);
  for (const token of [randomBytes(32).toString("base64url"), "short", "x".repeat(400)]) {
    const res = await request(`${c.info.prisms[0]!.url}/user/session/validate`, { method: "POST", headers: { "x-oose-token": token } });
    t.is(res.statusCode, 401, token);
    t.like(await res.body.json(), { code: "UNAUTHORIZED" });
  }
  const wrong = await t.throwsAsync(client.login(c.info.admin.username, "not-the-password"));
  t.is((wrong as { status?: number }).status, 401);
});

test.serial("purchase, deliver from either prism, fetch the bytes from nginx", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const purchase = await client.purchase({ hash: FOX_SHA1, ext: "txt", referrer: ["localhost"] });
  t.regex(purchase.token, /^[A-Za-z0-9]{64}$/);
  t.like(purchase, { hash: FOX_SHA1, ext: "txt", referrer: "localhost", life: "7200000", owner: c.info.admin.username });
  t.true(Number(purchase.expirationDate) > Date.now());
  const publics = c.info.stores.map((s) => s.public);
  for (const prism of c.info.prisms) {
    const res = await get(`${prism.url}/${purchase.token}/video.txt`, { referer: "http://localhost/page" });
    t.is(res.status, 302);
    t.true(publics.some((p) => res.location!.startsWith(`${p}/`)), res.location);
    const bytes = await get(res.location!);
    t.is(bytes.status, 200);
    t.true(bytes.body.equals(FOX));
  }
  t.like(await client.purchaseFind(purchase.token), { token: purchase.token });
  const removed = await (await loggedIn(c, 1)).purchaseRemove(purchase.token);
  t.like(removed, { token: purchase.token, count: 1, success: "Purchase removed" });
  t.is((await get(`${c.info.prisms[0]!.url}/${purchase.token}/x.txt`, { referer: "http://localhost/" })).status, 404);
  t.like(await client.purchaseRemove(purchase.token), { count: 0 }, "removing again is fine");
});

test.serial("referrer rules are anchored to the Referer's host", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const { token } = await client.purchase({ hash: FOX_SHA1, ext: "txt", referrer: ["localhost", "*.example.com"] });
  const url = `${c.info.prisms[0]!.url}/${token}/f.txt`;
  t.is((await get(url, { referer: "http://localhost/x" })).status, 302);
  t.is((await get(url, { referer: "https://cdn.example.com/" })).status, 302);
  for (const referer of ["http://evil.test/?localhost", "http://example.com.evil.test/", "https://example.com/"]) {
    const res = await get(url, { referer });
    t.is(res.status, 403, referer);
  }
  t.is((await get(url)).status, 403, "no Referer");
  const open = await client.purchase({ hash: FOX_SHA1, ext: "txt", referrer: [] });
  t.is((await get(`${c.info.prisms[0]!.url}/${open.token}/f.txt`)).status, 302, "an empty list accepts any referrer");
});

test.serial("expiry: 410 at the prism once the purchase expires, and 410 from nginx for a replayed link", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const { token } = await client.purchase({ hash: FOX_SHA1, ext: "txt", life: 2500 });
  const first = await get(`${c.info.prisms[0]!.url}/${token}/f.txt`);
  t.is(first.status, 302);
  const link = first.location!;
  t.is((await get(link)).status, 200);
  // A link edited to another file fails its signature.
  t.is((await get(link.replace(/\/c\/[0-9a-f]{2}\//, "/c/00/"))).status, 403);
  t.is((await get(link.replace(/md5=[^&]+/, "md5=AAAAAAAAAAAAAAAAAAAAAA"))).status, 403);
  await sleep(3200);
  t.is((await get(`${c.info.prisms[0]!.url}/${token}/f.txt`)).status, 410);
  t.is((await get(link)).status, 410);
});

test.serial("video gets start=0 unless the client set start or html5; attach and rate pass through", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const { token } = await client.purchase({ hash: FOX_SHA1, ext: "mp4" });
  const base = `${c.info.prisms[0]!.url}/${token}/clip.mp4`;
  const plain = new URL((await get(base)).location!);
  t.is(plain.searchParams.get("start"), "0");
  t.is(new URL((await get(`${base}?start=12`)).location!).searchParams.get("start"), "12");
  t.is(new URL((await get(`${base}?html5=1`)).location!).searchParams.get("start"), null);
  const extra = new URL((await get(`${base}?attach=my%20clip.mp4&rate=50000`)).location!);
  t.is(extra.searchParams.get("attach"), "my clip.mp4");
  t.is(extra.searchParams.get("rate"), "50000");
});

test.serial("bad purchase and delivery input gets a clean 4xx", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const base = c.info.prisms[0]!.url;
  const { token } = await client.purchase({ hash: FOX_SHA1, ext: "txt" });
  const tokens: [string, number][] = [
    [token.slice(0, 63), 400],
    [`${token}A`, 400],
    [token.replace(/^./, token[0] === "A" ? "B" : "A"), 404],
    ["a".repeat(300), 400],
    ["..%2f..%2fetc", 400],
  ];
  for (const [tok, status] of tokens) t.is((await get(`${base}/${tok}/f.txt`)).status, status, tok);
  // Plain requests are answered before fastify, anything else by the fastify route: the same answers either way.
  const deliveries: [string, number, string?][] = [
    ["/f.txt", 302],
    ["/f.txt?start=5&attach=My%20File.txt&rate=1000&cb=1", 302],
    ["/%66.txt", 302],
    ["/a..b", 400, "INVALID_FILE_NAME"],
    ["/..%2f..%2fetc%2fpasswd", 400, "INVALID_FILE_NAME"],
    ["/f.txt?start=-1", 400, "BAD_REQUEST"],
    ["/f.txt?start=abc", 400, "BAD_REQUEST"],
    ["/f.txt?rate=0", 400, "BAD_REQUEST"],
    ["/f.txt?attach=a&attach=b", 400, "BAD_REQUEST"],
    [`/f.txt?attach=${"a".repeat(300)}`, 400, "BAD_REQUEST"],
  ];
  for (const [path, status, code] of deliveries) {
    const res = await get(`${base}/${token}${path}`);
    t.is(res.status, status, path);
    if (code) t.like(JSON.parse(res.body.toString()), { code }, path);
    else t.regex(res.location ?? "", /\/c\/.+\?md5=/, path);
  }
  const head = await request(`${base}/${token}/f.txt`, { method: "HEAD" });
  t.is(head.statusCode, 302, "HEAD goes through the fastify route");
  await head.body.dump();
  const bad = async (body: Record<string, unknown>) => {
    const err = await t.throwsAsync(client.purchase(body as never));
    return (err as { status?: number }).status;
  };
  t.is(await bad({ hash: FOX_SHA1, ext: "txt", life: -5 }), 400);
  t.is(await bad({ hash: FOX_SHA1, ext: "txt", life: "soon" }), 400);
  t.is(await bad({ hash: FOX_SHA1, ext: "txt", life: 1e15 }), 400);
  t.is(await bad({ hash: FOX_SHA1, ext: "t.xt" }), 400);
  t.is(await bad({ hash: FOX_SHA1, ext: "../txt" }), 400);
  t.is(await bad({ hash: "0".repeat(40), ext: "txt" }), 404);
  t.is(await bad({ hash: "nope", ext: "txt" }), 400);
});

import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import test from "ava";
import { useCluster } from "../helpers/cluster.js";

// The prism driven the way OOSE-era client code drives it, with node's own
// https module and nothing from this project: HTTPS with the cluster's
// generated certificate, the session token from login in X-OOSE-Token, every
// success exactly 200 with no `error` key, a one-part multipart upload read
// back from files.file.hash, and the purchase and static URLs built by hand
// from the answers, then followed to the bytes.

const cluster = useCluster(test, {
  prisms: 1,
  storesPerPrism: 2,
  replicas: 2,
  // /content/retrieve fetches from this test's loopback server.
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? { OOSE_RETRIEVE__ALLOW_PRIVATE: "true" } : {}),
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): Record<string, unknown>;
}

let ca: Buffer;
test.serial.before(() => {
  ca = readFileSync(cluster().info.ca!);
});

/** One request with node's http/https modules, trusting the cluster CA as an OOSE client given the CA would. */
function call(url: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}) {
  const target = new URL(url);
  const lib = target.protocol === "https:" ? https : http;
  return new Promise<Reply>((resolve, reject) => {
    const req = lib.request(target, { method: o.method ?? "GET", headers: o.headers, ...(lib === https ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body.toString("utf8")) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

const postJson = (url: string, json: unknown, headers: Record<string, string> = {}) =>
  call(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(json) });

/** An OOSE client's success check: exactly 200, and no error key. */
function ok(t: { is: (a: unknown, b: unknown, m?: string) => void; false: (v: boolean, m?: string) => void }, res: Reply, what: string) {
  t.is(res.status, 200, `${what}: ${res.body.toString("utf8").slice(0, 300)}`);
  const body = res.json();
  t.false("error" in body, `${what} has no error key`);
  return body;
}

/** multipart/form-data with a single part named "file", as form-data/request built it. */
function multipart(name: string, type: string, data: Buffer): { body: Buffer; type: string } {
  const boundary = `--------------------------${randomBytes(12).toString("hex")}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(head), data, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");

test.serial("an OOSE-era client: login, upload, detail, purchase, deliver, static, logout", async (t) => {
  const c = cluster();
  const prism = c.info.prisms[0]!.url;
  t.regex(prism, /^https:/);
  const host = new URL(prism).host;

  const login = ok(t, await postJson(`${prism}/user/login`, { username: c.info.admin.username, password: c.info.admin.password }), "login");
  t.is(typeof login.success, "string");
  const token = (login.session as { token: string }).token;
  t.is(typeof token, "string");
  const session = { "X-OOSE-Token": token };

  ok(t, await postJson(`${prism}/user/session/validate`, {}, session), "validate");

  const data = Buffer.from(`compat ${randomBytes(16).toString("hex")}\n`);
  const form = multipart("notes.txt", "text/plain", data);
  const upload = ok(
    t,
    await call(`${prism}/content/upload`, { method: "POST", headers: { ...session, "content-type": form.type }, body: form.body }),
    "upload",
  );
  const file = (upload.files as Record<string, Record<string, unknown>>).file!;
  const hash = file.hash as string;
  t.is(hash, sha1(data));
  t.like(file, { sha1: hash, hashType: "sha1", ext: "txt", name: "notes.txt", mimetype: "text/plain" });

  const detail = ok(t, await postJson(`${prism}/content/detail`, { hash }, session), "detail");
  t.like(detail, { hash, exists: true });
  const basic = `Basic ${Buffer.from(`${c.info.prismAuth.username}:${c.info.prismAuth.password}`).toString("base64")}`;
  t.like(ok(t, await postJson(`${prism}/content/exists`, { sha1: hash }, { authorization: basic }), "exists"), { exists: true });

  const purchase = ok(t, await postJson(`${prism}/content/purchase`, { sha1: hash, ext: "txt", referrer: ["localhost"] }, session), "purchase");
  t.is(typeof purchase.token, "string");
  t.is(purchase.ext, "txt");
  t.is(purchase.hash, hash);

  // The URL OOSE clients print into pages: //<prism host:port>/<token>/<name>.<ext>, taken as https.
  const purchaseUrl = `//${host}/${purchase.token}/notes.${purchase.ext}`;
  const redirect = await call(`https:${purchaseUrl}`, { headers: { referer: "http://localhost/page" } });
  t.is(redirect.status, 302);
  const bytes = await call(String(redirect.headers.location));
  t.is(bytes.status, 200);
  t.true(bytes.body.equals(data));

  const staticUrl = `//${host}/static/${hash}/notes.txt`;
  const toStatic = await call(`https:${staticUrl}`);
  t.is(toStatic.status, 302);
  const staticBytes = await call(String(toStatic.headers.location));
  t.is(staticBytes.status, 200);
  t.true(staticBytes.body.equals(data));

  // The same purchase URL through the front nginx, which terminates TLS too.
  const front = new URL(c.info.front!);
  t.is(front.protocol, "https:");
  const viaFront = await call(`https://${front.host}/${purchase.token}/notes.txt`, { headers: { referer: "http://localhost/" } });
  t.is(viaFront.status, 302);
  t.true((await call(String(viaFront.headers.location))).body.equals(data));

  const removed = ok(t, await postJson(`${prism}/content/purchase/remove`, { token: purchase.token }, session), "purchase remove");
  t.like(removed, { token: purchase.token, count: 1, success: "Purchase removed" });

  t.like(ok(t, await postJson(`${prism}/user/logout`, {}, session), "logout"), { success: "User logged out" });
  const after = await postJson(`${prism}/user/session/validate`, {}, session);
  t.is(after.status, 401);
});

test.serial("retrieve answers 200 with OOSE's shape", async (t) => {
  const c = cluster();
  const prism = c.info.prisms[0]!.url;
  const payload = randomBytes(5000);
  const server = http.createServer((_req, res) => res.writeHead(200, { "content-type": "application/octet-stream" }).end(payload));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  const login = (await postJson(`${prism}/user/login`, { username: c.info.admin.username, password: c.info.admin.password })).json();
  const session = { "X-OOSE-Token": (login.session as { token: string }).token };
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob`;
  const got = ok(t, await postJson(`${prism}/content/retrieve`, { request: { url, method: "GET" }, extension: "bin" }, session), "retrieve");
  t.like(got, { hash: sha1(payload), sha1: sha1(payload), extension: "bin" });
});

test.serial("failures: never 200, a string error and a code", async (t) => {
  const c = cluster();
  const prism = c.info.prisms[0]!.url;
  const login = (await postJson(`${prism}/user/login`, { username: c.info.admin.username, password: c.info.admin.password })).json();
  const session = { "X-OOSE-Token": (login.session as { token: string }).token };
  const cases: [string, Promise<Reply>][] = [
    ["bad login", postJson(`${prism}/user/login`, { username: c.info.admin.username, password: "wrong" })],
    ["no session", postJson(`${prism}/content/detail`, { hash: "a".repeat(40) })],
    ["bad hash", postJson(`${prism}/content/purchase`, { hash: "nope", ext: "txt" }, session)],
    ["unknown hash", postJson(`${prism}/content/purchase`, { hash: "0".repeat(40), ext: "txt" }, session)],
    ["no purchase", call(`${prism}/${"A".repeat(64)}/x.txt`)],
  ];
  for (const [what, pending] of cases) {
    const res = await pending;
    t.true(res.status >= 400, `${what}: ${res.status}`);
    const body = res.json();
    t.is(typeof body.error, "string", what);
    t.is(typeof body.code, "string", what);
  }
});

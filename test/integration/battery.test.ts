import { randomBytes } from "node:crypto";
import net from "node:net";
import test from "ava";
import nano from "nano";
import { request } from "undici";
import { relativePath } from "../../app/core/layout.js";
import { useCluster } from "../helpers/cluster.js";
import { FOX, FOX_SHA1, loggedIn } from "../helpers/prism.js";

// A hostile client's battery over every prism and store route: malformed JSON
// and multipart, bad query strings, odd headers, wrong methods. Nothing may
// answer 500, and every error carries {error, code}. Delivery runs on both its
// paths: the raw fast path (plain GET /<token>/<name>) and the fastify route
// (an encoded name, a repeated key, HEAD).

const cluster = useCluster(test, { prisms: 1, storesPerPrism: 2, http: true });

interface Answer {
  status: number;
  body: string;
  location?: string;
}
type Headers = Record<string, string>;
interface Hit {
  method?: string;
  url: string;
  headers?: Headers;
  body?: string | Buffer;
}

const hit = async ({ method = "GET", url, headers = {}, body }: Hit): Promise<Answer> => {
  const res = await request(url, { method: method as "GET", headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, body: text, location: res.headers.location as string | undefined };
};

/** The status line and body of a request written byte for byte; `end` half-closes after it. */
const raw = (port: number, bytes: string, end = false): Promise<Answer> =>
  new Promise((resolve) => {
    let out = "";
    const sock = net.connect(port, "127.0.0.1", () => (end ? sock.end(bytes) : sock.write(bytes)));
    const done = () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0);
      resolve({ status, body: out.slice(out.indexOf("\r\n\r\n") + 4) });
    };
    sock.on("data", (d) => {
      out += d;
    });
    sock.on("close", done);
    sock.on("error", () => undefined);
    sock.setTimeout(5000, () => sock.destroy());
  });

/** No 5xx, and an `{error, code}` body on every error (HEAD has no body). */
function expectClean(t: { true(v: boolean, m?: string): void; fail(m: string): void }, label: string, a: Answer, head = false) {
  t.true(a.status > 0 && a.status < 500, `${label} → ${a.status} ${a.body.slice(0, 200)}`);
  if (a.status < 400 || head || a.status === 0) return;
  try {
    const body = JSON.parse(a.body) as { error?: unknown; code?: unknown };
    t.true(typeof body.error === "string" && typeof body.code === "string", `${label}: ${a.body.slice(0, 200)}`);
  } catch {
    t.fail(`${label}: not JSON: ${a.body.slice(0, 200)}`);
  }
}

/** Runs `hits` a few at a time, checking each answer. */
async function battery(t: Parameters<typeof expectClean>[0], hits: [string, Hit][]): Promise<void> {
  const queue = [...hits];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [label, h] = next;
      expectClean(t, label, await hit(h), h.method === "HEAD");
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
}

const JSON_TYPE = "application/json";
const BOUNDARY = "XbatteryX";
const part = (headers: string, data: string) => `--${BOUNDARY}\r\n${headers}\r\n\r\n${data}\r\n`;
const FILE_PART = part('Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain', "hello");

const BODIES: [string, string | Buffer, string | undefined][] = [
  ["bad json", "{not json", JSON_TYPE],
  ["truncated json", '{"hash": "a', JSON_TYPE],
  ["empty", "", JSON_TYPE],
  ["null", "null", JSON_TYPE],
  ["array", "[1,2]", JSON_TYPE],
  ["string", '"x"', JSON_TYPE],
  ["empty object", "{}", JSON_TYPE],
  [
    "wrong types",
    '{"hash":{"$gt":""},"sha1":[1],"token":5,"file":null,"id":true,"store":{},"command":[],"username":1,"password":{},"request":"x","ext":7,"referrer":"x","life":"soon"}',
    JSON_TYPE,
  ],
  ["prototype keys", '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}', JSON_TYPE],
  ["deep nesting", `${"[".repeat(3000)}${"]".repeat(3000)}`, JSON_TYPE],
  [
    "traversal",
    JSON.stringify({ hash: "../../etc/passwd", token: "../../etc/passwd", file: "../../x.txt", id: "../x", store: "..:..", ext: "../x" }),
    JSON_TYPE,
  ],
  ["long values", JSON.stringify({ hash: "a".repeat(5000), token: "A".repeat(5000), file: `${"a".repeat(5000)}.txt` }), JSON_TYPE],
  ["text/plain", '{"hash":"x"}', "text/plain"],
  ["no content-type", '{"hash":"x"}', undefined],
  ["urlencoded", "hash=x&token=y", "application/x-www-form-urlencoded"],
  ["multipart", `${FILE_PART}--${BOUNDARY}--\r\n`, `multipart/form-data; boundary=${BOUNDARY}`],
  ["odd charset", "{}", "application/json; charset=utf-16"],
  ["too large", Buffer.alloc(1024 * 1024 + 10, 0x20), JSON_TYPE],
];

const MULTIPART: [string, string, string][] = [
  ["no boundary", "multipart/form-data", `${FILE_PART}--${BOUNDARY}--\r\n`],
  ["empty boundary", "multipart/form-data; boundary=", `${FILE_PART}--${BOUNDARY}--\r\n`],
  ["wrong boundary", "multipart/form-data; boundary=other", `${FILE_PART}--${BOUNDARY}--\r\n`],
  ["truncated", `multipart/form-data; boundary=${BOUNDARY}`, FILE_PART.slice(0, 70)],
  ["no closing boundary", `multipart/form-data; boundary=${BOUNDARY}`, FILE_PART],
  ["garbage", `multipart/form-data; boundary=${BOUNDARY}`, "garbage garbage garbage"],
  ["empty", `multipart/form-data; boundary=${BOUNDARY}`, ""],
  ["closing only", `multipart/form-data; boundary=${BOUNDARY}`, `--${BOUNDARY}--\r\n`],
  ["bad part header", `multipart/form-data; boundary=${BOUNDARY}`, `${part("nonsense", "x")}--${BOUNDARY}--\r\n`],
  ["no disposition", `multipart/form-data; boundary=${BOUNDARY}`, `${part("Content-Type: text/plain", "x")}--${BOUNDARY}--\r\n`],
  ["prototype field", `multipart/form-data; boundary=${BOUNDARY}`, `${part('Content-Disposition: form-data; name="__proto__"', "x")}--${BOUNDARY}--\r\n`],
  ["bad hashType", `multipart/form-data; boundary=${BOUNDARY}`, `${part('Content-Disposition: form-data; name="hashType"', "crc32")}${FILE_PART}--${BOUNDARY}--\r\n`],
  ["multipart/mixed", `multipart/mixed; boundary=${BOUNDARY}`, `${FILE_PART}--${BOUNDARY}--\r\n`],
];

const QUERIES = ["?%zz", "?a=%E0%A4%A", "?a[b]=1&a[c]=2", "?a=1&a=2", "?", "?&&&=", "?%00=%00", `?q=${"x".repeat(6000)}`];

let token = "";
let videoToken = "";
let sha1Ogv = "";

test.before(async () => {
  const client = await loggedIn(cluster());
  await client.upload([{ name: "fox.txt", data: FOX, type: "text/plain" }]);
  const ogv = randomBytes(512);
  const placed = await client.upload([{ name: "clip.ogv", data: ogv, type: "video/ogg" }]);
  sha1Ogv = placed.files.file!.hash;
  token = (await client.purchase({ hash: FOX_SHA1, ext: "txt" })).token;
  videoToken = (await client.purchase({ hash: sha1Ogv, ext: "ogv" })).token;
});

test.serial("every prism and store route answers bad input with a 4xx {error, code}", async (t) => {
  const c = cluster();
  const prism = c.info.prisms[0]!.url;
  const store = c.info.stores[0]!.url;
  const session = { "x-oose-token": (await loggedIn(c)).token! };
  const prismAuth = c.prismAuth();
  const storeAuth = c.storeAuth();
  const file = `${FOX_SHA1}.txt`;
  const routes: [string, string, string, Headers][] = [
    ["POST", prism, "/user/login", {}],
    ["POST", prism, "/user/logout", { "x-oose-token": "AuthSession=bogus" }],
    ["POST", prism, "/user/session/validate", session],
    ["POST", prism, "/user/session/renew", { "x-oose-token": "AuthSession=bogus" }],
    ["POST", prism, "/content/retrieve", session],
    ["POST", prism, "/content/detail", session],
    ["POST", prism, "/content/exists", prismAuth],
    ["POST", prism, "/content/download", session],
    ["POST", prism, "/content/purchase", session],
    ["POST", prism, "/content/purchase/find", session],
    ["POST", prism, "/content/purchase/update", session],
    ["POST", prism, "/content/purchase/remove", session],
    ["POST", prism, "/content/upload", session],
    ["PUT", prism, `/content/put/${file}`, prismAuth],
    ["POST", prism, "/cache/flush", prismAuth],
    ["POST", prism, "/cache/detail", prismAuth],
    ["PUT", store, `/content/put/${file}`, storeAuth],
    ["PUT", store, "/content/stage/battery-1?hashType=sha1", storeAuth],
    ["POST", store, "/content/commit", storeAuth],
    ["POST", store, "/content/abort", storeAuth],
    ["POST", store, "/content/download", storeAuth],
    ["POST", store, "/content/exists", storeAuth],
    ["POST", store, "/content/detail", storeAuth],
    ["POST", store, "/content/verify", storeAuth],
    ["POST", store, "/content/remove", storeAuth],
    ["POST", store, "/content/send", storeAuth],
  ];
  const hits: [string, Hit][] = [];
  for (const [method, base, path, auth] of routes) {
    for (const [name, body, type] of BODIES) {
      const headers = { ...auth, ...(type ? { "content-type": type } : {}) };
      hits.push([`${method} ${path} ${name}`, { method, url: `${base}${path}`, headers, body }]);
    }
    for (const wrong of method === "PUT" ? ["POST", "DELETE"] : ["GET", "PATCH", "DELETE"])
      hits.push([`${wrong} ${path}`, { method: wrong, url: `${base}${path}`, headers: auth }]);
    hits.push([`${path} bad query`, { method, url: `${base}${path}${QUERIES[0]}`, headers: auth, body: "{}" }]);
  }
  for (const [base, path] of [prism, store].flatMap((b) => ["/", "/ping", "/stats", "/healthz"].map((p) => [b, p])))
    for (const q of QUERIES) hits.push([`GET ${path}${q.slice(0, 20)}`, { url: `${base}${path}${q}` }]);
  for (const authorization of ["Basic !!!", `Basic ${Buffer.from("nocolon").toString("base64")}`, "Bearer x", "Basic", `Basic ${"A".repeat(4000)}`]) {
    hits.push([`prism auth ${authorization.slice(0, 20)}`, { method: "POST", url: `${prism}/content/exists`, headers: { authorization }, body: "{}" }]);
    hits.push([`store auth ${authorization.slice(0, 20)}`, { method: "POST", url: `${store}/content/exists`, headers: { authorization }, body: "{}" }]);
  }
  for (const tok of ["", "garbage", "AuthSession=", `AuthSession=${"x".repeat(3000)}`, "a\u00ff"])
    hits.push([`session ${tok.slice(0, 20)}`, { method: "POST", url: `${prism}/content/detail`, headers: { "x-oose-token": tok }, body: "{}" }]);
  for (const range of ["bytes=abc", "bytes=999999-", "bytes=5-1", "items=0-1", "bytes=0-1,2-3,4-5"])
    hits.push([`range ${range}`, { method: "POST", url: `${store}/content/download`, headers: { ...storeAuth, range, "content-type": JSON_TYPE }, body: JSON.stringify({ hash: FOX_SHA1 }) }]);
  hits.push(["gzip that is not", { method: "POST", url: `${prism}/content/detail`, headers: { ...session, "content-type": JSON_TYPE, "content-encoding": "gzip" }, body: "{}" }]);
  for (const [name, type, body] of MULTIPART)
    hits.push([`upload ${name}`, { method: "POST", url: `${prism}/content/upload`, headers: { ...session, "content-type": type }, body }]);
  t.true(hits.length > 300 && hits.length < 800, String(hits.length));
  await battery(t, hits);
});

test.serial("requests too malformed for a route still get {error, code}", async (t) => {
  const c = cluster();
  for (const url of [c.info.prisms[0]!.url, c.info.stores[0]!.url]) {
    const port = Number(new URL(url).port);
    const big = `GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`;
    expectClean(t, "header overflow", await raw(port, big));
    expectClean(t, "bad request line", await raw(port, "GARBAGE\r\n\r\n"));
    expectClean(t, "bad header", await raw(port, "GET /ping HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"));
  }
  // A multipart body cut off mid-way: the client is gone, and the prism must not count it as its own failure.
  const session = (await loggedIn(c)).token!;
  const port = Number(new URL(c.info.prisms[0]!.url).port);
  const head = `POST /content/upload HTTP/1.1\r\nHost: x\r\nX-OOSE-Token: ${session}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: 5000\r\n\r\n`;
  const cut = await raw(port, `${head}${FILE_PART.slice(0, 90)}`, true);
  t.true(cut.status === 0 || cut.status < 500, String(cut.status));
});

test.serial("delivery answers alike on the fast path and the fastify route", async (t) => {
  const prism = cluster().info.prisms[0]!.url;
  const encoded = (name: string) => `%${name.charCodeAt(0).toString(16)}${name.slice(1)}`;
  const forms = (tok: string, name: string, query = "", headers: Headers = {}): [string, Hit][] => [
    [`fast ${name}${query}`, { url: `${prism}/${tok}/${name}${query}`, headers }],
    [`fastify ${name}${query}`, { url: `${prism}/${tok}/${encoded(name)}${query}`, headers }],
    [`HEAD ${name}${query}`, { method: "HEAD", url: `${prism}/${tok}/${name}${query}`, headers }],
  ];
  const cases: [string, string, string, Headers?][] = [
    [token, "f.txt", ""],
    ["A".repeat(64), "f.txt", ""],
    [token, "a..b", ""],
    [token, "f.txt", `?attach=${"a".repeat(300)}`],
    [token, "f.txt", `?html5=${"a".repeat(300)}`],
    ...["?start=-1", "?start=abc", "?rate=0", "?rate=1.5", "?start=05", "?start=1e3", "?rate=+5", "?start=%205", "?attach=%E0%A4%A", ...QUERIES].map((q) => [token, "f.txt", q] as [string, string, string]),
    ...["javascript", "", "https://"].map((p) => [token, "f.txt", "", { "x-forwarded-protocol": p }] as [string, string, string, Headers]),
    ...["x".repeat(4000), "not a url"].map((r) => [token, "f.txt", "", { referer: r }] as [string, string, string, Headers]),
  ];
  for (const [tok, name, query, headers] of cases) {
    const [fast, viaFastify, head] = forms(tok, name, query, headers);
    const answers = await Promise.all([fast![1], viaFastify![1], head![1]].map(hit));
    expectClean(t, fast![0], answers[0]!);
    expectClean(t, viaFastify![0], answers[1]!);
    expectClean(t, head![0], answers[2]!, true);
    const code = (a: Answer) => (a.status >= 400 ? (JSON.parse(a.body) as { code: string }).code : "");
    t.is(answers[0]!.status, answers[1]!.status, `${fast![0]}: both paths alike`);
    t.is(code(answers[0]!), code(answers[1]!), `${fast![0]}: the same code`);
    t.is(answers[0]!.status, answers[2]!.status, `${fast![0]}: HEAD alike`);
  }
});

test.serial("html5 reaches the store URL on both delivery paths, and keeps start=0 away", async (t) => {
  const prism = cluster().info.prisms[0]!.url;
  for (const path of [`/${videoToken}/clip.ogv`, `/${videoToken}/%63lip.ogv`]) {
    const plain = new URL((await hit({ url: `${prism}${path}` })).location!);
    t.is(plain.searchParams.get("start"), "0", path);
    const html5 = new URL((await hit({ url: `${prism}${path}?html5=1` })).location!);
    t.is(html5.searchParams.get("html5"), "1", path);
    t.is(html5.searchParams.get("start"), null, path);
  }
});

test.serial("a malformed purchase token is a 400 on find, update and remove, never a Redis outage", async (t) => {
  const c = cluster();
  const headers = { "x-oose-token": (await loggedIn(c)).token!, "content-type": JSON_TYPE };
  for (const route of ["find", "update", "remove"]) {
    for (const bad of ["aaaa", "../../etc/passwd", "", `${"a".repeat(63)}/`, "A".repeat(65)]) {
      const a = await hit({ method: "POST", url: `${c.info.prisms[0]!.url}/content/purchase/${route}`, headers, body: JSON.stringify({ token: bad }) });
      t.is(a.status, 400, `${route} ${bad}`);
      t.like(JSON.parse(a.body), { code: "INVALID_TOKEN" }, `${route} ${bad}`);
    }
  }
});

test.serial("a malformed multipart upload is a 400 INVALID_MULTIPART", async (t) => {
  const c = cluster();
  const headers = { "x-oose-token": (await loggedIn(c)).token! };
  for (const [name, type, body] of MULTIPART.filter(([n]) => ["no boundary", "wrong boundary", "truncated", "garbage"].includes(n))) {
    const a = await hit({ method: "POST", url: `${c.info.prisms[0]!.url}/content/upload`, headers: { ...headers, "content-type": type }, body });
    t.is(a.status, 400, name);
    t.like(JSON.parse(a.body), { code: "INVALID_MULTIPART" }, name);
  }
});

test.serial("static delivery refuses every audio and video type, on the prism and on the store nginx", async (t) => {
  const c = cluster();
  const denied = await hit({ url: `${c.info.prisms[0]!.url}/static/${sha1Ogv}/clip.txt` });
  t.is(denied.status, 403);
  t.like(JSON.parse(denied.body), { code: "FORBIDDEN" });
  const fox = relativePath(FOX_SHA1, "txt");
  for (const s of c.info.stores) {
    t.is((await hit({ url: `${s.public}/static/${relativePath(sha1Ogv, "ogv")}` })).status, 403, s.name);
    for (const ext of "ogv m4a wav opus wma 3gp mka m4b f4v mts m2ts vob aiff mp4 MP3 webm".split(" "))
      t.is((await hit({ url: `${s.public}/static/${fox.replace(/\.txt$/, `.${ext}`)}` })).status, 403, `${s.name} ${ext}`);
  }
});

test.serial("no node logged an internal error through the battery", (t) => {
  const internal = cluster()
    .logs()
    .split("\n")
    .filter((l) => l.includes('"level":50') && l.includes('"msg":"Internal error"'));
  t.deepEqual(internal.map((l) => l.slice(0, 400)), []);
});

// Last: it leaves the cluster without its inventory.
test.serial("a missing inventory database is a 503 DATABASE_MISSING, not a client error", async (t) => {
  const c = cluster();
  await nano(c.info.couchdb).db.destroy("oose-inventory");
  const headers = { "x-oose-token": (await loggedIn(c)).token!, "content-type": JSON_TYPE };
  for (const path of ["/content/detail", "/content/purchase"]) {
    const a = await hit({ method: "POST", url: `${c.info.prisms[0]!.url}${path}`, headers, body: JSON.stringify({ hash: "b".repeat(40), ext: "txt" }) });
    t.is(a.status, 503, path);
    t.like(JSON.parse(a.body), { code: "DATABASE_MISSING" }, path);
  }
});

import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import test, { type ExecutionContext } from "ava";
import {
  assertError,
  basic,
  buildCluster,
  FOX,
  FOX_SHA1,
  type InProcessCluster,
  multipart,
  PRISM_AUTH,
  STORE_AUTH,
  uploadFile,
} from "../helpers/inprocess.js";

// The prism's content routes in-process: upload, retrieve, detail, exists,
// download, the prism→prism PUT and the static redirect. Effects are read
// through the ports (inventory, each store's blobs).

const UNKNOWN = "0123456789abcdef0123456789abcdef01234567";
const prismBasic = { authorization: basic(PRISM_AUTH) };
const sha = (type: string, b: Buffer | string) => createHash(type).update(b).digest("hex");

const post = (c: InProcessCluster, url: string, payload: unknown, headers: Record<string, string> = prismBasic) =>
  c.prism.inject({ method: "POST", url, headers, payload: payload as Record<string, unknown> });

async function uploadForm(c: InProcessCluster, headers: Record<string, string>, form: ReturnType<typeof multipart>) {
  return c.prism.inject({
    method: "POST",
    url: "/content/upload",
    headers: { ...headers, ...form.headers },
    payload: form.payload,
  });
}

/** Which stores hold `hash`, by their blobs. */
async function holders(c: InProcessCluster, hash: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of c.stores) if (await s.blobs.find(hash)) out.push(s.name);
  return out;
}

/** A local HTTP server answering every GET with `body` (for retrieve). */
async function origin(t: ExecutionContext, body: Buffer, type = "text/plain"): Promise<string> {
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith("/missing")) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": type, "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// ---- POST /content/upload

test.serial("upload: 200 with the file's entry, two copies on stores of different zones, bytes on both", async (t) => {
  const c = await buildCluster(t);
  const token = await c.login();
  const form = multipart([
    { field: "note", value: "hello" },
    { file: "file", filename: "fox.txt", type: "text/plain", body: FOX },
  ]);
  const res = await uploadForm(c, { "x-oose-token": token }, form);
  t.is(res.statusCode, 200, res.body);
  t.regex(String(res.headers["content-type"]), /^application\/json/);
  const body = res.json();
  t.is(body.success, "File(s) uploaded");
  t.deepEqual(body.data, { fields: { note: "hello" } });
  const file = body.files.file;
  t.like(file, {
    key: "file",
    name: "fox.txt",
    mimetype: "text/plain",
    ext: "txt",
    hash: FOX_SHA1,
    sha1: FOX_SHA1,
    hashType: "sha1",
    size: FOX.length,
    added: 2,
  });
  t.is(file.copies.length, 2);

  const docs = await c.backends.inventory.copiesOf(FOX_SHA1);
  t.is(docs.length, 2);
  const stores = docs.map((d) => d.store);
  t.is(new Set(stores).size, 2);
  t.deepEqual([...file.copies].sort(), docs.map((d) => `${d.prism}:${d.store}`).sort());
  const zones = stores.map((s) => c.stores.find((x) => x.name === s)!.zone);
  t.is(new Set(zones).size, 2, "copies on different zones");
  t.true(docs.every((d) => d.size === FOX.length && d.mimeExtension === "txt"));
  t.deepEqual((await holders(c, FOX_SHA1)).sort(), [...stores].sort());
});

test.serial("upload: with four stores the two copies still land in two zones", async (t) => {
  const c = await buildCluster(t, { stores: 4 });
  const file = await uploadFile(c, "basic");
  const docs = await c.backends.inventory.copiesOf(file.hash);
  t.is(docs.length, 2);
  const zones = docs.map((d) => c.stores.find((s) => s.name === d.store)!.zone);
  t.deepEqual([...zones].sort(), ["zone1", "zone2"]);
});

test.serial("upload: the same bytes again add no copy", async (t) => {
  const c = await buildCluster(t);
  const first = await uploadFile(c, "basic");
  const again = await uploadFile(c, "basic", FOX, { filename: "other.txt" });
  t.is(first.added, 2);
  t.is(again.added, 0);
  t.deepEqual([...again.copies].sort(), [...first.copies].sort());
  t.is((await c.backends.inventory.copiesOf(FOX_SHA1)).length, 2);
});

test.serial("upload: hashType sha256 names the file by its sha256; several files in one request", async (t) => {
  const c = await buildCluster(t);
  const form = multipart([
    { field: "hashType", value: "sha256" },
    { file: "a", filename: "a.txt", type: "text/plain", body: "first file" },
    { file: "b", filename: "b.json", type: "application/json", body: "{}" },
  ]);
  const res = await uploadForm(c, prismBasic, form);
  t.is(res.statusCode, 200, res.body);
  const { a, b } = res.json().files;
  t.is(a.hash, sha("sha256", "first file"));
  t.is(a.sha256, a.hash);
  t.is(a.hashType, "sha256");
  t.is(b.ext, "json");
  t.is(b.hash, sha("sha256", "{}"));
  t.is((await c.backends.inventory.copiesOf(a.hash)).length, 2);
  t.is((await c.backends.inventory.copiesOf(b.hash)).length, 2);
});

test.serial("upload: no credentials, a bad token or wrong basic auth is a 401", async (t) => {
  const c = await buildCluster(t);
  const form = multipart([{ file: "file", filename: "fox.txt", body: FOX }]);
  assertError(t, await uploadForm(c, {}, form), 401, "UNAUTHORIZED");
  assertError(t, await uploadForm(c, { "x-oose-token": "not-a-session" }, form), 401, "UNAUTHORIZED");
  const unknown = "A".repeat(43);
  assertError(t, await uploadForm(c, { "x-oose-token": unknown }, form), 401, "UNAUTHORIZED");
  const wrong = { authorization: basic({ ...PRISM_AUTH, password: "wrong" }) };
  assertError(t, await uploadForm(c, wrong, form), 401, "UNAUTHORIZED");
  // The store's credentials are not the prism's.
  assertError(t, await uploadForm(c, { authorization: basic(STORE_AUTH) }, form), 401, "UNAUTHORIZED");
  t.is((await c.backends.inventory.copiesOf(FOX_SHA1)).length, 0);
});

test.serial("upload: a body that is not multipart is a 415", async (t) => {
  const c = await buildCluster(t);
  const res = await post(c, "/content/upload", { file: "x" });
  assertError(t, res, 415, "UNSUPPORTED_MEDIA_TYPE");
});

test.serial("upload: malformed multipart bodies are 400s, never 500s", async (t) => {
  const c = await buildCluster(t);
  const B = "xyz";
  const filePart = `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nabc\r\n`;
  const cases: Array<[string, string, string]> = [
    ["garbage", `multipart/form-data; boundary=${B}`, "garbage garbage"],
    ["truncated", `multipart/form-data; boundary=${B}`, filePart.slice(0, 60)],
    ["no closing boundary", `multipart/form-data; boundary=${B}`, filePart],
    ["no boundary", "multipart/form-data", `${filePart}--${B}--\r\n`],
  ];
  for (const [name, type, payload] of cases) {
    const res = await c.prism.inject({
      method: "POST",
      url: "/content/upload",
      headers: { ...prismBasic, "content-type": type },
      payload,
    });
    t.true(res.statusCode >= 400 && res.statusCode < 500, `${name}: ${res.statusCode} ${res.body}`);
    t.truthy(res.json().code, name);
  }
  const garbage = await c.prism.inject({
    method: "POST",
    url: "/content/upload",
    headers: { ...prismBasic, "content-type": `multipart/form-data; boundary=${B}` },
    payload: `${filePart.slice(0, 60)}`,
  });
  assertError(t, garbage, 400, "INVALID_MULTIPART");
});

test.serial("upload: no file, a bad hashType or a field after a file is a 400", async (t) => {
  const c = await buildCluster(t);
  assertError(t, await uploadForm(c, prismBasic, multipart([{ field: "a", value: "b" }])), 400, "BAD_REQUEST");
  const badType = multipart([
    { field: "hashType", value: "crc32" },
    { file: "file", filename: "a.txt", body: "x" },
  ]);
  assertError(t, await uploadForm(c, prismBasic, badType), 400, "BAD_REQUEST");
  const late = multipart([
    { file: "file", filename: "a.txt", body: "late field" },
    { field: "hashType", value: "sha256" },
  ]);
  assertError(t, await uploadForm(c, prismBasic, late), 400, "BAD_REQUEST");
});

test.serial("upload: a file over limits.uploadMaxBytes is a 413 and leaves no copy", async (t) => {
  const c = await buildCluster(t, { prism: { limits: { uploadMaxBytes: 8 } } });
  const body = Buffer.from("more than eight bytes");
  const res = await uploadForm(c, prismBasic, multipart([{ file: "file", filename: "big.txt", body }]));
  assertError(t, res, 413, "PAYLOAD_TOO_LARGE");
  t.is((await c.backends.inventory.copiesOf(sha("sha1", body))).length, 0);
  t.deepEqual(await holders(c, sha("sha1", body)), []);
});

test.serial("upload: with no store at all the prism answers 503, not 500", async (t) => {
  const c = await buildCluster(t, { stores: 0 });
  const res = await uploadForm(c, prismBasic, multipart([{ file: "file", filename: "a.txt", body: "x" }]));
  assertError(t, res, 503, "NO_PLACEMENT");
});

// ---- POST /content/retrieve

test.serial("retrieve: imports from a URL, named by its path, placed as an upload", async (t) => {
  const c = await buildCluster(t, { prism: { retrieve: { allowPrivate: true } } });
  const url = await origin(t, FOX);
  const res = await post(c, "/content/retrieve", { request: { url: `${url}/some/fox.txt` } });
  t.is(res.statusCode, 200, res.body);
  const body = res.json();
  t.like(body, { hash: FOX_SHA1, sha1: FOX_SHA1, hashType: "sha1", extension: "txt", size: FOX.length });
  t.is(body.copies.length, 2);
  t.is((await c.backends.inventory.copiesOf(FOX_SHA1)).length, 2);
  t.is((await holders(c, FOX_SHA1)).length, 2);

  const typed = await post(c, "/content/retrieve", {
    request: { url: `${url}/x` },
    hashType: "sha256",
    extension: "MD",
  });
  t.is(typed.statusCode, 200, typed.body);
  t.like(typed.json(), { hash: sha("sha256", FOX), hashType: "sha256", extension: "md" });
});

test.serial("retrieve: a private address is refused by default (403)", async (t) => {
  const c = await buildCluster(t);
  const url = await origin(t, FOX);
  assertError(t, await post(c, "/content/retrieve", { request: { url: `${url}/fox.txt` } }), 403, "FORBIDDEN");
  t.is((await c.backends.inventory.copiesOf(FOX_SHA1)).length, 0);
});

test.serial("retrieve: bad input and remote failures are 4xx/502, never 500", async (t) => {
  const c = await buildCluster(t, { prism: { retrieve: { allowPrivate: true } } });
  const url = await origin(t, FOX);
  assertError(t, await post(c, "/content/retrieve", {}), 400, "BAD_REQUEST");
  assertError(t, await post(c, "/content/retrieve", { request: { url: "not a url" } }), 400, "BAD_REQUEST");
  assertError(t, await post(c, "/content/retrieve", { request: { url: "ftp://example.com/x" } }), 400, "BAD_REQUEST");
  const badType = { request: { url: `${url}/a` }, hashType: "crc32" };
  assertError(t, await post(c, "/content/retrieve", badType), 400, "BAD_REQUEST");
  assertError(t, await post(c, "/content/retrieve", { request: { url: `${url}/missing` } }), 400, "BAD_REQUEST");
  // Nothing listens on port 1: the connection is refused.
  const refused = await post(c, "/content/retrieve", { request: { url: "http://127.0.0.1:1/fox.txt" } });
  assertError(t, refused, 502, "UPSTREAM_FAILED");
  assertError(t, await post(c, "/content/retrieve", { request: { url } }, {}), 401, "UNAUTHORIZED");
});

// ---- POST /content/detail and /content/exists

test.serial("detail: the existence record of a stored hash, a dead one for unknown content", async (t) => {
  const c = await buildCluster(t);
  const token = await c.login();
  const file = await uploadFile(c, { token });
  const res = await post(c, "/content/detail", { hash: file.hash }, { "x-oose-token": token });
  t.is(res.statusCode, 200, res.body);
  const docs = await c.backends.inventory.copiesOf(file.hash);
  const record = res.json();
  t.like(record, {
    hash: FOX_SHA1,
    mimeType: "text/plain",
    mimeExtension: "txt",
    relativePath: docs[0]!.relativePath,
    size: FOX.length,
    count: 2,
    exists: true,
  });
  t.deepEqual([...record.map].sort(), docs.map((d) => `${d.prism}:${d.store}`).sort());

  const dead = await post(c, "/content/detail", { sha1: UNKNOWN.toUpperCase() }, { "x-oose-token": token });
  t.is(dead.statusCode, 200);
  t.deepEqual(dead.json(), {
    hash: UNKNOWN,
    mimeType: null,
    mimeExtension: null,
    relativePath: null,
    size: null,
    count: 0,
    exists: false,
    map: [],
  });
});

test.serial("detail and exists: an array answers a record per hash", async (t) => {
  const c = await buildCluster(t);
  await uploadFile(c, "basic");
  for (const url of ["/content/detail", "/content/exists"]) {
    const res = await post(c, url, { hash: [FOX_SHA1, UNKNOWN] });
    t.is(res.statusCode, 200, res.body);
    const body = res.json();
    t.deepEqual(Object.keys(body).sort(), [FOX_SHA1, UNKNOWN].sort());
    t.true(body[FOX_SHA1].exists);
    t.is(body[FOX_SHA1].count, 2);
    t.false(body[UNKNOWN].exists);
    // A one-element array stays a bulk answer.
    const one = (await post(c, url, { hash: [FOX_SHA1] })).json();
    t.deepEqual(Object.keys(one), [FOX_SHA1]);
  }
});

test.serial("exists: the single answer is the record, behind the prism's basic auth only", async (t) => {
  const c = await buildCluster(t);
  const token = await c.login();
  await uploadFile(c, { token });
  const res = await post(c, "/content/exists", { hash: FOX_SHA1 });
  t.is(res.statusCode, 200);
  t.like(res.json(), { hash: FOX_SHA1, exists: true, count: 2 });
  // Private: a session does not open it.
  assertError(t, await post(c, "/content/exists", { hash: FOX_SHA1 }, { "x-oose-token": token }), 401, "UNAUTHORIZED");
  assertError(t, await post(c, "/content/exists", { hash: FOX_SHA1 }, {}), 401, "UNAUTHORIZED");
});

test.serial("detail and exists: bad, missing and too many hashes are 400s", async (t) => {
  const c = await buildCluster(t, { prism: { limits: { bulkMax: 2 } } });
  for (const url of ["/content/detail", "/content/exists"]) {
    assertError(t, await post(c, url, { hash: "nothex" }), 400, "INVALID_HASH");
    assertError(t, await post(c, url, { hash: [FOX_SHA1, "zz"] }), 400, "INVALID_HASH");
    assertError(t, await post(c, url, {}), 400, "BAD_REQUEST");
    assertError(t, await post(c, url, { hash: [FOX_SHA1, UNKNOWN, FOX_SHA1] }), 400, "BAD_REQUEST");
    assertError(t, await post(c, url, { hash: { a: 1 } }), 400, "BAD_REQUEST");
  }
  assertError(t, await post(c, "/content/detail", { hash: FOX_SHA1 }, {}), 401, "UNAUTHORIZED");
});

// ---- POST /content/download

test.serial("download: the bytes with their type and length", async (t) => {
  const c = await buildCluster(t);
  const token = await c.login();
  await uploadFile(c, { token });
  const res = await post(c, "/content/download", { hash: FOX_SHA1 }, { "x-oose-token": token });
  t.is(res.statusCode, 200);
  t.is(res.headers["content-type"], "text/plain");
  t.is(res.headers["content-length"], String(FOX.length));
  t.deepEqual(res.rawPayload, FOX);
  const bySha1 = await post(c, "/content/download", { sha1: FOX_SHA1 });
  t.deepEqual(bySha1.rawPayload, FOX);
});

test.serial("download: a holder that lost the file is passed over; none left is a 503", async (t) => {
  const c = await buildCluster(t);
  await uploadFile(c, "basic");
  const [first, second] = c.stores;
  const blob = await first!.blobs.find(FOX_SHA1);
  await first!.blobs.remove(blob!);
  const res = await post(c, "/content/download", { hash: FOX_SHA1 });
  t.is(res.statusCode, 200, res.body);
  t.deepEqual(res.rawPayload, FOX);
  await second!.blobs.remove((await second!.blobs.find(FOX_SHA1))!);
  assertError(t, await post(c, "/content/download", { hash: FOX_SHA1 }), 503, "PEER_UNAVAILABLE");
});

test.serial("download: unknown content 404, bad hash 400, no credentials 401", async (t) => {
  const c = await buildCluster(t);
  assertError(t, await post(c, "/content/download", { hash: UNKNOWN }), 404, "CONTENT_NOT_FOUND");
  assertError(t, await post(c, "/content/download", { hash: "../../etc/passwd" }), 400, "INVALID_HASH");
  assertError(t, await post(c, "/content/download", {}), 400, "INVALID_HASH");
  assertError(t, await post(c, "/content/download", { hash: FOX_SHA1 }, {}), 401, "UNAUTHORIZED");
});

// ---- PUT /content/put/:file

const put = (c: InProcessCluster, file: string, body: Buffer | string, headers: Record<string, string> = prismBasic) =>
  c.prism.inject({
    method: "PUT",
    url: `/content/put/${file}`,
    headers: { ...headers, "content-type": "application/octet-stream" },
    payload: body,
  });

test.serial("put: 201, one copy on one of this prism's stores, recorded in the inventory", async (t) => {
  const c = await buildCluster(t);
  const res = await put(c, `${FOX_SHA1}.txt`, FOX);
  t.is(res.statusCode, 201, res.body);
  const body = res.json();
  t.is(body.success, "File uploaded");
  t.is(body.file, `${FOX_SHA1}.txt`);
  t.true(c.stores.some((s) => s.name === body.store));
  t.deepEqual(await holders(c, FOX_SHA1), [body.store]);
  const docs = await c.backends.inventory.copiesOf(FOX_SHA1);
  t.deepEqual(
    docs.map((d) => [d.prism, d.store, d.mimeExtension]),
    [["prism1", body.store, "txt"]],
  );
});

test.serial("put: bytes that do not match their name are a 422 and leave nothing", async (t) => {
  const c = await buildCluster(t);
  const res = await put(c, `${UNKNOWN}.txt`, FOX);
  assertError(t, res, 422, "HASH_MISMATCH");
  t.deepEqual(await holders(c, UNKNOWN), []);
  t.is((await c.backends.inventory.copiesOf(UNKNOWN)).length, 0);
});

test.serial("put: a bad name is a 400, no or the wrong credentials a 401, no store of its own a 503", async (t) => {
  const c = await buildCluster(t);
  assertError(t, await put(c, "nothash.txt", FOX), 400, "INVALID_HASH");
  assertError(t, await put(c, FOX_SHA1, FOX), 400, "INVALID_FILE_NAME");
  assertError(t, await put(c, `${FOX_SHA1}.txt`, FOX, {}), 401, "UNAUTHORIZED");
  const token = await c.login();
  // Private: a session does not open it.
  assertError(t, await put(c, `${FOX_SHA1}.txt`, FOX, { "x-oose-token": token }), 401, "UNAUTHORIZED");
  t.deepEqual(await holders(c, FOX_SHA1), []);

  const empty = await buildCluster(t, { stores: 0 });
  assertError(t, await put(empty, `${FOX_SHA1}.txt`, FOX), 503, "NO_PLACEMENT");
});

// The hop takes raw bytes whatever the content type: a text/plain body once reached the store empty.
test.serial("put: a body sent as text/plain reaches the store as it is", async (t) => {
  const c = await buildCluster(t);
  const res = await c.prism.inject({
    method: "PUT",
    url: `/content/put/${FOX_SHA1}.txt`,
    headers: { ...prismBasic, "content-type": "text/plain" },
    payload: FOX,
  });
  t.is(res.statusCode, 201, res.body);
  t.is((await holders(c, FOX_SHA1)).length, 1);
});

// ---- GET /static/:hash/:filename

test.serial("static: 302 to a holder's /static/<relativePath>, whatever name is asked", async (t) => {
  const c = await buildCluster(t);
  await uploadFile(c, "basic");
  const [doc] = await c.backends.inventory.copiesOf(FOX_SHA1);
  const res = await c.prism.inject({ method: "GET", url: `/static/${FOX_SHA1}/any-name.bin` });
  t.is(res.statusCode, 302, res.body);
  const location = String(res.headers.location);
  const holder = c.stores.find((s) => location.startsWith(`${s.url}/`));
  t.truthy(holder, location);
  t.is(location, `${holder!.url}/static/${doc!.relativePath}`);
  t.truthy(await holder!.blobs.find(FOX_SHA1));
  // Upper case hashes are the same content.
  const upper = await c.prism.inject({ method: "GET", url: `/static/${FOX_SHA1.toUpperCase()}/fox.txt` });
  t.is(upper.statusCode, 302);
});

test.serial("static: a denied stored type is a 403, whatever extension the link names", async (t) => {
  const c = await buildCluster(t);
  const video = await uploadFile(c, "basic", "not really a video", { filename: "clip.mp4", type: "video/mp4" });
  const res = await c.prism.inject({ method: "GET", url: `/static/${video.hash}/clip.txt` });
  assertError(t, res, 403, "FORBIDDEN");
});

test.serial("static: unknown content 404, bad hash or name 400", async (t) => {
  const c = await buildCluster(t);
  assertError(t, await c.prism.inject({ method: "GET", url: `/static/${UNKNOWN}/a.txt` }), 404, "CONTENT_NOT_FOUND");
  assertError(t, await c.prism.inject({ method: "GET", url: "/static/nothex/a.txt" }), 400, "INVALID_HASH");
  const dots = await c.prism.inject({ method: "GET", url: `/static/${UNKNOWN}/a..txt` });
  assertError(t, dots, 400, "INVALID_FILE_NAME");
  const long = await c.prism.inject({ method: "GET", url: `/static/${UNKNOWN}/${"a".repeat(300)}` });
  assertError(t, long, 400, "BAD_REQUEST");
});

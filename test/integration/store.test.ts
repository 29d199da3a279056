import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import anyTest, { type TestFn } from "ava";
import { getCopy } from "../../app/adapters/couch/inventory.js";
import { closeSharedAgent } from "../../app/client/http.js";
import { StoreClient } from "../../app/client/store.js";
import type { PeerDoc } from "../../app/core/peer.js";
import { AppError } from "../../app/errors.js";
import { waitFor } from "../../infra/local/proc.js";
import {
  type Backends,
  filesUnder,
  type RunningStore,
  STORE_AUTH,
  startBackends,
  startStore,
} from "../helpers/store-node.js";

// The store API against real processes: two stores started from app/main.ts,
// the CouchDB stand-in and Redis. Serial: several tests look at tmp/ as a whole.

const test = anyTest as TestFn<{ b: Backends; s1: RunningStore; s2: RunningStore }>;
const test_ = test.serial;

const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");
const layoutFile = (s: RunningStore, hash: string, ext: string) =>
  path.join(s.contentRoot, `${hash.match(/../g)!.join("/")}.${ext}`);
const filesFor = (s: RunningStore, hash: string) =>
  filesUnder(s.contentRoot).filter((f) => f.replaceAll("/", "").includes(hash.slice(-8)));
const auth = `Basic ${Buffer.from(`${STORE_AUTH.username}:${STORE_AUTH.password}`).toString("base64")}`;

/** A raw HTTP call, so paths go out exactly as written (no URL normalisation). */
function raw(s: RunningStore, method: string, urlPath: string, body?: Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: Number(new URL(s.url).port),
        method,
        path: urlPath,
        headers: { authorization: auth, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {} });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Sends a PUT's head and the first body bytes, keeps the socket open, and returns the first response. */
function partialPut(s: RunningStore, file: string, length: number, first: Buffer) {
  return new Promise<string>((resolve, reject) => {
    const sock = net.connect(Number(new URL(s.url).port), "127.0.0.1", () => {
      sock.write(
        `PUT /content/put/${file} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\n` +
          `Content-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`,
      );
      sock.write(first);
    });
    let text = "";
    sock.on("data", (c) => {
      text += c.toString();
      if (/\r\n\r\n\{.*\}$/s.test(text)) {
        sock.destroy();
        resolve(text);
      }
    });
    sock.on("error", reject);
    sock.on("close", () => resolve(text));
  });
}

const LIMIT = 4 * 1024 * 1024;
let failed = false;
test.before(async (t) => {
  const b = await startBackends();
  const limits = { OOSE_LIMITS__UPLOAD_MAX_BYTES: String(LIMIT), OOSE_LIMITS__REQUEST_TIMEOUT_MS: "2000" };
  const [s1, s2] = await Promise.all([
    startStore(b, { name: "store1", env: limits }),
    startStore(b, { name: "store2", prism: "prism2" }),
  ]);
  t.context = { b, s1, s2 };
});
test.afterEach.always((t) => {
  if (!t.passed) failed = true;
});
test.after.always(async (t) => {
  await closeSharedAgent();
  await Promise.all([t.context.s1?.stop(), t.context.s2?.stop()]);
  await t.context.b?.stop(failed);
});

test_("put writes the file, records the inventory and answers 201 {hash}", async (t) => {
  const { s1, b } = t.context;
  const data = Buffer.from("The fox is brown");
  const hash = sha1(data);
  t.is(hash, "a03f181dc7dedcfb577511149b8844711efdb04f");
  const reply = await s1.client.put(`${hash}.txt`, data);
  t.is(reply.hash, hash);
  t.is(reply.relativePath, "a0/3f/18/1d/c7/de/dc/fb/57/75/11/14/9b/88/44/71/1e/fd/b0/4f.txt");
  t.deepEqual(readFileSync(layoutFile(s1, hash, "txt")), data);
  const doc = await getCopy(b.couch, hash, "prism1", "store1");
  t.like(doc, { hash, prism: "prism1", store: "store1", size: 16, mimeType: "text/plain", mimeExtension: "txt" });
  t.is(doc?.relativePath, reply.relativePath);
  t.is(typeof doc?.verifiedAt, "number");
  t.deepEqual(filesUnder(s1.tmpDir), []);

  // The same content again, from a client that sends no Content-Type: same single file, same record.
  t.is((await raw(s1, "PUT", `/content/put/${hash}.txt`, data)).status, 201);
  const again = await s1.client.put(`${hash}.txt`, data);
  t.is(again.hash, hash);
  t.is(filesFor(s1, hash).length, 1);
  t.is((await getCopy(b.couch, hash, "prism1", "store1"))?.createdAt, doc?.createdAt);
});

test_("the hash type comes from the hash's length", async (t) => {
  const { s1 } = t.context;
  const data = randomBytes(7000);
  for (const type of ["md5", "sha256", "sha512"]) {
    const hash = createHash(type).update(data).digest("hex");
    t.is((await s1.client.put(`${hash}.bin`, data)).hash, hash, type);
    t.like(await s1.client.verify(`${hash}.bin`, true), { status: "ok", actualHash: hash }, type);
    // The right length but another type's digest is a mismatch, not a silent accept.
    const wrong = createHash("sha1").update(data).digest("hex");
    t.like(
      await t.throwsAsync(s1.client.put(`${wrong.slice(0, hash.length).padEnd(hash.length, "0")}.bin`, data)),
      { status: 422 },
      type,
    );
  }
});

test_("exists answers OOSE's single and bulk shapes", async (t) => {
  const { s1 } = t.context;
  const hash = (await s1.client.put("a03f181dc7dedcfb577511149b8844711efdb04f.txt", Buffer.from("The fox is brown")))
    .hash;
  const missing = sha1(randomBytes(8));
  const single = await raw(s1, "POST", "/content/exists", Buffer.from(JSON.stringify({ hash })), {
    "content-type": "application/json",
  });
  t.deepEqual(single.json, { exists: { exists: true, ext: "txt" } });
  t.deepEqual(await s1.client.exists(missing), { exists: false, ext: "" });
  t.deepEqual(await s1.client.exists([hash, missing]), {
    [hash]: { exists: true, ext: "txt" },
    [missing]: { exists: false, ext: "" },
  });
  const bad = await t.throwsAsync(s1.client.exists("brown"));
  t.like(bad, { status: 400, code: "INVALID_HASH" });
});

test_("download sends the bytes, with Range", async (t) => {
  const { s1 } = t.context;
  const data = randomBytes(100_000);
  const hash = sha1(data);
  await s1.client.put(`${hash}.bin`, data);
  const whole = await s1.client.download(hash);
  t.is(whole.status, 200);
  t.deepEqual(Buffer.from(await new Response(whole.body as unknown as ReadableStream).arrayBuffer()), data);
  const part = await s1.client.download(hash, { start: 10, end: 99 });
  t.is(part.status, 206);
  t.is(part.size, 100_000);
  const bytes = Buffer.concat(await part.body.toArray());
  t.deepEqual(bytes, data.subarray(10, 100));
  const tail = await s1.client.download(hash, { start: 99_990 });
  t.deepEqual(Buffer.concat(await tail.body.toArray()), data.subarray(99_990));
  const suffix = await fetch(`${s1.url}/content/download`, {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/json", range: "bytes=-10" },
    body: JSON.stringify({ hash }),
  });
  t.is(suffix.status, 206);
  t.is(suffix.headers.get("content-range"), "bytes 99990-99999/100000");
  t.deepEqual(Buffer.from(await suffix.arrayBuffer()), data.subarray(99_990));
  const past = await t.throwsAsync(s1.client.download(hash, { start: 100_000 }));
  t.like(past, { status: 416, code: "RANGE_NOT_SATISFIABLE" });
  t.like(await t.throwsAsync(s1.client.download(sha1(randomBytes(4)))), { status: 404, code: "CONTENT_NOT_FOUND" });
});

test_("detail joins the file and its inventory record", async (t) => {
  const { s1 } = t.context;
  const data = randomBytes(1234);
  const hash = sha1(data);
  await s1.client.put(`${hash}.png`, data);
  const d = await s1.client.detail(hash);
  t.like(d, {
    hash,
    ext: "png",
    mimeExtension: "png",
    mimeType: "image/png",
    prism: "prism1",
    store: "store1",
    size: 1234,
  });
  t.is(d.hashDetail.size, 1234);
  t.is(typeof d.verifiedAt, "number");
  t.like(await t.throwsAsync(s1.client.detail(sha1(randomBytes(4)))), { status: 404 });
});

test_("bad input gets a 4xx {error, code} and leaves nothing on disk", async (t) => {
  const { s1 } = t.context;
  const data = randomBytes(5000);
  const hash = sha1(data);
  const cases: [string, string, Buffer, Record<string, string>, number, string][] = [
    ["not hex", `/content/put/${"z".repeat(40)}.txt`, data, {}, 400, "INVALID_HASH"],
    ["wrong length", `/content/put/${hash.slice(1)}.txt`, data, {}, 400, "INVALID_HASH"],
    ["slash", `/content/put/${hash}/x.txt`, data, {}, 400, "INVALID_FILE_NAME"],
    ["dot-dot", `/content/put/../${hash}.txt`, data, {}, 400, "INVALID_FILE_NAME"],
    ["dot-dot ext", `/content/put/${hash}..txt`, data, {}, 400, "INVALID_FILE_NAME"],
    ["NUL", `/content/put/${hash}%00.txt`, data, {}, 400, "INVALID_FILE_NAME"],
    ["no extension", `/content/put/${hash}`, data, {}, 400, "INVALID_FILE_NAME"],
    ["body differs", `/content/put/${hash}.bin`, randomBytes(5000), {}, 422, "HASH_MISMATCH"],
    ["empty body", `/content/put/${hash}.bin`, Buffer.alloc(0), {}, 422, "HASH_MISMATCH"],
    ["no auth", `/content/put/${hash}.bin`, data, { authorization: "" }, 401, "UNAUTHORIZED"],
    ["wrong auth", `/content/put/${hash}.bin`, data, { authorization: "Basic c3RvcmU6bm9wZQ==" }, 401, "UNAUTHORIZED"],
  ];
  for (const [what, url, body, headers, status, code] of cases) {
    const res = await raw(s1, "PUT", url, body, { "content-type": "application/octet-stream", ...headers });
    t.is(res.status, status, what);
    t.is(res.json.code, code, what);
    t.is(typeof res.json.error, "string", what);
  }
  t.deepEqual(filesFor(s1, hash), []);
  t.deepEqual(filesUnder(s1.tmpDir), []);
  const mismatch = await t.throwsAsync(s1.client.put(`${hash}.bin`, randomBytes(10)));
  t.true(mismatch instanceof AppError);
  t.like(mismatch, { status: 422, code: "HASH_MISMATCH", details: { expectedHash: hash } });
});

test_("a good copy survives a bad upload of the same hash", async (t) => {
  const { s1 } = t.context;
  const data = randomBytes(50_000);
  const hash = sha1(data);
  await s1.client.put(`${hash}.bin`, data);
  await t.throwsAsync(s1.client.put(`${hash}.bin`, randomBytes(50_000)), { message: /Checksum mismatch/ });
  await t.throwsAsync(s1.client.put(`${hash}.bin`, Buffer.alloc(0)));
  t.deepEqual(readFileSync(layoutFile(s1, hash, "bin")), data);
  t.like(await s1.client.verify(`${hash}.bin`, true), { status: "ok" });
});

test_("a client that disconnects mid-upload leaves no file and no temp file", async (t) => {
  const { s1 } = t.context;
  const data = randomBytes(1024 * 1024);
  const hash = sha1(data);
  const port = Number(new URL(s1.url).port);
  await new Promise<void>((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => {
      sock.write(
        `PUT /content/put/${hash}.bin HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\n` +
          `Content-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`,
      );
      sock.write(data.subarray(0, 200_000), () =>
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 200),
      );
    });
    sock.on("error", reject);
  });
  await waitFor("temp file cleanup", async () => filesUnder(s1.tmpDir).length === 0, 5000);
  t.deepEqual(filesFor(s1, hash), []);
  t.true(await s1.client.ping());
  t.is((await s1.client.put(`${hash}.bin`, data)).hash, hash);
});

test_("a stalled upload times out on the client and leaves nothing on the store", async (t) => {
  const { s1 } = t.context;
  const hash = sha1(randomBytes(8));
  const slow = new StoreClient({ baseUrl: s1.url, auth: STORE_AUTH, timeoutMs: 500 });
  const body = new Readable({ read() {} });
  body.push(randomBytes(10_000));
  const started = performance.now();
  t.like(await t.throwsAsync(slow.put(`${hash}.bin`, body, 100_000)), { status: 503, code: "PEER_UNAVAILABLE" });
  t.true(performance.now() - started < 3000);
  await waitFor("temp file cleanup", async () => filesUnder(s1.tmpDir).length === 0, 5000);
  t.deepEqual(filesFor(s1, hash), []);
});

test_("the store drops an upload that stalls, and refuses one over the size limit", async (t) => {
  const { s1 } = t.context;
  const hash = sha1(randomBytes(8));
  const started = performance.now();
  const stalled = await partialPut(s1, `${hash}.bin`, 1_000_000, randomBytes(10_000));
  t.regex(stalled, /^HTTP\/1\.1 400/);
  t.regex(stalled, /"code":"CLIENT_ABORTED"/);
  t.true(performance.now() - started < 5000);
  t.deepEqual(filesUnder(s1.tmpDir), []);
  const big = await partialPut(s1, `${hash}.bin`, LIMIT + 1, Buffer.alloc(0));
  t.regex(big, /^HTTP\/1\.1 413/);
  t.regex(big, /"code":"PAYLOAD_TOO_LARGE"/);
  const chunked = s1.client.put(`${hash}.bin`, Readable.from([randomBytes(LIMIT), randomBytes(10)]));
  t.true((await t.throwsAsync(chunked)) instanceof AppError);
  t.deepEqual(filesFor(s1, hash), []);
  await waitFor("temp file cleanup", async () => filesUnder(s1.tmpDir).length === 0, 5000);
});

test_("concurrent PUTs of one hash all succeed and leave exactly one file", async (t) => {
  const { s1, b } = t.context;
  const data = randomBytes(2 * 1024 * 1024);
  const hash = sha1(data);
  const replies = await Promise.all(Array.from({ length: 6 }, () => s1.client.put(`${hash}.bin`, data)));
  t.true(replies.every((r) => r.hash === hash));
  t.deepEqual(filesFor(s1, hash), [layoutFile(s1, hash, "bin")]);
  t.deepEqual(readFileSync(layoutFile(s1, hash, "bin")), data);
  t.deepEqual(filesUnder(s1.tmpDir), []);
  t.is((await getCopy(b.couch, hash, "prism1", "store1"))?.size, data.length);
});

test_("a new extension replaces the old one: one file per hash", async (t) => {
  const { s1, b } = t.context;
  const data = randomBytes(3000);
  const hash = sha1(data);
  await s1.client.put(`${hash}.bin`, data);
  await s1.client.put(`${hash}.dat`, data);
  t.deepEqual(filesFor(s1, hash), [layoutFile(s1, hash, "dat")]);
  t.is((await getCopy(b.couch, hash, "prism1", "store1"))?.mimeExtension, "dat");
  t.deepEqual(await s1.client.exists(hash), { exists: true, ext: "dat" });
});

test_("verify: forced re-hash, trusted skip, corruption caught and deleted", async (t) => {
  const { s1, b } = t.context;
  const data = randomBytes(20_000);
  const hash = sha1(data);
  await s1.client.put(`${hash}.bin`, data);
  const forced = await s1.client.verify(`${hash}.bin`, true);
  t.like(forced, { status: "ok", verified: true, verifySkipped: false, expectedHash: hash, actualHash: hash });
  t.is(typeof forced.verifiedAt, "number");
  t.like(await s1.client.verify(`${hash}.bin`), { status: "ok", verifySkipped: true });

  const corrupt = Buffer.from(data);
  corrupt[100] = corrupt[100]! ^ 0xff;
  writeFileSync(layoutFile(s1, hash, "bin"), corrupt);
  const caught = await s1.client.verify(`${hash}.bin`, true);
  t.like(caught, { status: "fail", verified: false, expectedHash: hash, actualHash: sha1(corrupt) });
  t.false(existsSync(layoutFile(s1, hash, "bin")));
  t.is(await getCopy(b.couch, hash, "prism1", "store1"), undefined);
  t.like(await t.throwsAsync(s1.client.verify(`${hash}.bin`)), { status: 404, code: "CONTENT_NOT_FOUND" });
});

test_("send copies to another store, reporting bytes and duration", async (t) => {
  const { s1, s2, b } = t.context;
  const data = randomBytes(300_000);
  const hash = sha1(data);
  await s1.client.put(`${hash}.mp4`, data);
  const sent = await s1.client.send(`${hash}.mp4`, "prism2:store2");
  t.like(sent, { success: "Clone sent", file: `${hash}.mp4`, details: { bytes: 300_000 } });
  t.like(sent.store, { name: "store2", prism: "prism2", url: s2.url });
  t.true(sent.details.durationMs >= 1);
  t.deepEqual(readFileSync(layoutFile(s2, hash, "mp4")), data);
  t.like(await getCopy(b.couch, hash, "prism2", "store2"), { size: 300_000, mimeType: "video/mp4" });
  t.like(await t.throwsAsync(s1.client.send(`${hash}.mp4`, "prism9:nowhere")), { status: 404 });
  t.like(await t.throwsAsync(s1.client.send(`${hash}.mp4`, "prism1:store1")), { status: 400 });
  t.like(await t.throwsAsync(s1.client.send(`${sha1(randomBytes(3))}.mp4`, "prism2:store2")), { status: 404 });
});

test_("remove verifies first, then deletes file and record", async (t) => {
  const { s1, b } = t.context;
  const data = randomBytes(10_000);
  const hash = sha1(data);
  await s1.client.put(`${hash}.bin`, data);
  const removed = await s1.client.remove(hash);
  t.like(removed, { success: "File removed", verifyDetail: { status: "ok" }, fileDetail: { hash, size: 10_000 } });
  t.deepEqual(filesFor(s1, hash), []);
  t.is(await getCopy(b.couch, hash, "prism1", "store1"), undefined);
  t.like(await t.throwsAsync(s1.client.remove(hash)), { status: 404 });

  // A corrupt copy is not "removed": verify fails (and has already deleted it).
  await s1.client.put(`${hash}.bin`, data);
  writeFileSync(layoutFile(s1, hash, "bin"), randomBytes(10_000));
  // Age the record so remove's verify re-hashes instead of trusting it.
  const inventory = b.couch.db("inventory");
  await inventory.insert({ ...(await inventory.get(`${hash}:prism1:store1`)), verifiedAt: 1 });
  t.like(await t.throwsAsync(s1.client.remove(hash)), { status: 422, code: "VERIFY_FAILED" });
  t.deepEqual(filesFor(s1, hash), []);
});

test_("staged upload: commit under the hash, abort, or 422 for the wrong name", async (t) => {
  const { s1 } = t.context;
  const data = randomBytes(40_000);
  const hash = sha1(data);
  const id = randomUUID();
  t.like(await s1.client.stage(id, data), { id, hash, size: 40_000 });
  t.deepEqual(filesFor(s1, hash), []);
  t.like(await s1.client.commit(id, `${hash}.bin`), { hash, size: 40_000 });
  t.deepEqual(readFileSync(layoutFile(s1, hash, "bin")), data);
  t.like(await t.throwsAsync(s1.client.commit(id, `${hash}.bin`)), { status: 404 });

  const other = randomUUID();
  await s1.client.stage(other, data);
  t.like(await s1.client.abort(other), { dropped: true });
  t.like(await s1.client.abort(other), { dropped: false });

  const wrong = randomUUID();
  await s1.client.stage(wrong, randomBytes(100));
  t.like(await t.throwsAsync(s1.client.commit(wrong, `${sha1(randomBytes(1))}.bin`)), { status: 422 });
  t.deepEqual(filesUnder(s1.tmpDir), []);
});

test_("public routes stay open; the API needs basic auth", async (t) => {
  const { s1 } = t.context;
  for (const p of ["/", "/ping", "/stats"]) t.is((await fetch(`${s1.url}${p}`)).status, 200, p);
  const anon = new StoreClient({ baseUrl: s1.url, timeoutMs: 5000 });
  t.like(await t.throwsAsync(anon.exists(sha1(Buffer.from("x")))), { status: 401, code: "UNAUTHORIZED" });
  t.true(await anon.ping());
  const down = new StoreClient({ baseUrl: "http://127.0.0.1:1", timeoutMs: 1000 });
  t.like(await t.throwsAsync(down.ping()), { status: 503, code: "PEER_UNAVAILABLE" });
});

test_("registration: available on start, unavailable on stop, an operator's active:false is kept", async (t) => {
  const { s2, b } = t.context;
  const peers = b.couch.db<PeerDoc>("peer");
  const doc = await peers.get("store:prism2:store2");
  t.like(doc, { type: "store", name: "store2", prism: "prism2", available: true, active: true, url: s2.url });
  t.is(typeof doc.capacity?.free, "number");
  await peers.insert({ ...doc, active: false });
  await s2.stop();
  t.like(await peers.get("store:prism2:store2"), { available: false, active: false });
  await s2.restart();
  t.like(await peers.get("store:prism2:store2"), { available: true, active: false });
  await peers.insert({ ...(await peers.get("store:prism2:store2")), active: true });
});

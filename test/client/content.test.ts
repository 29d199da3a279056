import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import v8 from "node:v8";
import vm from "node:vm";
import test from "ava";
import { request } from "undici";
import {
  BadRequestError,
  type ClientOptions,
  NotFoundError,
  OoseError,
  PrismClient,
  type Progress,
  TimeoutError,
  TransportError,
  UnauthorizedError,
  UnavailableError,
} from "../../packages/client/src/index.js";
import { useCluster } from "../helpers/cluster.js";
import { faultyProxy } from "./proxy.js";

// The client package against a real cluster: uploads from every kind of
// source with progress, a streamed download that never holds the file,
// existence, imports, purchases and delivery, and its errors, retries and
// timeouts (through a proxy that fails on demand).

const cluster = useCluster(test, {
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? { OOSE_RETRIEVE__ALLOW_PRIVATE: "true" } : {}),
});

const MiB = 1024 * 1024;
const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");

async function loggedIn(opts: Partial<ClientOptions> = {}): Promise<PrismClient> {
  const { prisms, admin } = cluster().info;
  const client = new PrismClient({ baseUrl: prisms[0]!.url, ...opts });
  await client.login(admin.username, admin.password);
  return client;
}

test.serial("several files in one upload, from a Buffer, a stream and a path, with progress to 100%", async (t) => {
  const client = await loggedIn();
  const [a, b, c] = [randomBytes(200_000), randomBytes(300_000), randomBytes(400_000)];
  const file = path.join(os.tmpdir(), `oose-client-${process.pid}.bin`);
  writeFileSync(file, c);
  const seen: Progress[] = [];
  const reply = await client.upload(
    [
      { field: "a", name: "a.bin", data: a },
      { field: "b", name: "b.dat", data: Readable.from([b.subarray(0, 100_000), b.subarray(100_000)]), size: b.length },
      { field: "c", path: file },
    ],
    { fields: { note: "three" }, onProgress: (p) => seen.push(p) },
  );
  t.is(reply.data.fields.note, "three");
  t.like(reply.files.a, { hash: sha1(a), size: a.length, ext: "bin" });
  t.like(reply.files.b, { hash: sha1(b), size: b.length, ext: "dat" });
  t.like(reply.files.c, { hash: sha1(c), size: c.length, name: path.basename(file) });
  const total = seen[0]!.total!;
  t.true(total > a.length + b.length + c.length, "the total, known from the start, counts the framing too");
  t.true(seen.every((p, i) => p.total === total && (i === 0 || p.sent > seen[i - 1]!.sent)));
  t.is(seen.at(-1)!.sent, total, "progress reaches 100%");
});

test.serial("a stream of unknown length: progress ends with the total it sent", async (t) => {
  const client = await loggedIn();
  const data = randomBytes(1 * MiB);
  const seen: Progress[] = [];
  const web = Readable.toWeb(Readable.from([data.subarray(0, MiB / 2), data.subarray(MiB / 2)]));
  const reply = await client.upload([{ name: "web.bin", data: web }], { onProgress: (p) => seen.push(p) });
  t.is(reply.files.file!.hash, sha1(data));
  t.is(seen[0]!.total, undefined);
  const last = seen.at(-1)!;
  t.is(last.total, last.sent);
  t.true(last.sent > data.length);
});

test.serial("a 64 MiB download streams: the memory held grows by less than 32 MiB", async (t) => {
  const client = await loggedIn({ timeoutMs: 120_000 });
  const SIZE = 64 * MiB;
  const chunk = randomBytes(MiB);
  const upHash = createHash("sha1");
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < SIZE / MiB; i++) {
        const part = Buffer.concat([Buffer.from(String(i).padStart(8, "0")), chunk.subarray(8)]);
        upHash.update(part);
        yield part;
      }
    })(),
  );
  const reply = await client.upload([{ name: "big.bin", data: source }]);
  const hash = upHash.digest("hex");
  t.is(reply.files.file!.hash, hash);

  // The memory the process holds (the JS heap, and Buffers outside it), collected every 4 MiB so the peak is
  // what the stream keeps, not garbage V8 has not got to yet. RSS cannot tell: the upload's freed pages are reused.
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const held = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  gc();
  const before = held();
  let peak = before;
  let got = 0;
  const downHash = createHash("sha1");
  for await (const part of await client.download(hash)) {
    downHash.update(part as Buffer);
    if (Math.floor((got + (part as Buffer).length) / (4 * MiB)) > Math.floor(got / (4 * MiB))) {
      gc();
      peak = Math.max(peak, held());
    }
    got += (part as Buffer).length;
  }
  t.is(got, SIZE);
  t.is(downHash.digest("hex"), hash);
  const growth = peak - before;
  t.log(`memory held grew by ${(growth / MiB).toFixed(1)} MiB while streaming ${SIZE / MiB} MiB`);
  t.true(growth < 32 * MiB, `memory held grew by ${(growth / MiB).toFixed(1)} MiB`);
});

test.serial("detail and exists, for one hash and for several", async (t) => {
  const client = await loggedIn();
  const data = randomBytes(5000);
  const hash = (await client.upload([{ name: "d.bin", data }])).files.file!.hash;
  const unknown = "0".repeat(40);
  t.like(await client.detail(hash), { hash, exists: true, size: 5000, count: 2 });
  const bulk = await client.detail([hash, unknown]);
  t.like(bulk[hash], { exists: true });
  t.like(bulk[unknown], { exists: false, count: 0 });
  const operator = new PrismClient({ baseUrl: cluster().info.prisms[1]!.url, auth: cluster().info.prismAuth });
  t.like(await operator.exists(hash), { hash, exists: true });
  t.like((await operator.exists([unknown]))[unknown], { exists: false });
});

test.serial("retrieve imports a file from a URL", async (t) => {
  const client = await loggedIn();
  const data = randomBytes(70_000);
  const origin = http.createServer((_req, res) => res.writeHead(200, { "content-type": "image/png" }).end(data));
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/pic`;
    t.like(await client.retrieve(url), { hash: sha1(data), size: data.length, extension: "png" });
  } finally {
    origin.close();
  }
});

test.serial("purchase, find, update and remove; delivery and static URLs redirect to a store", async (t) => {
  const client = await loggedIn({ deliveryBaseUrl: cluster().info.front! });
  const data = Buffer.from("delivered by the client package");
  const hash = (await client.upload([{ name: "note.txt", data, type: "text/plain" }])).files.file!.hash;
  const bought = await client.purchase({ hash, ext: "txt", referrer: ["localhost"] });
  t.like(await client.purchaseFind(bought.token), { token: bought.token, hash, referrer: "localhost" });
  t.like(await client.purchaseUpdate(bought.token, { referrer: [] }), { token: bought.token, referrer: "" });

  const url = client.deliveryUrl(bought.token, "note.txt", { attach: "saved.txt" });
  t.is(url, `${cluster().info.front}/${bought.token}/note.txt?attach=saved.txt`);
  const location = await client.locate(url);
  const publics = cluster().info.stores.map((s) => s.public);
  t.true(
    publics.some((p) => location.startsWith(`${p}/`)),
    location,
  );
  t.is(new URL(location).searchParams.get("attach"), "saved.txt");
  const res = await request(location);
  t.is(res.statusCode, 200);
  t.true(Buffer.from(await res.body.arrayBuffer()).equals(data));

  const viaRelative = await client.locate(url.replace(/^https?:/, ""));
  t.true(
    publics.some((p) => viaRelative.startsWith(`${p}/`)),
    "OOSE's //host/<token>/<name> takes the base's scheme",
  );

  const fromStatic = await client.locate(client.staticUrl(hash, "note.txt"));
  t.true(Buffer.from(await (await request(fromStatic)).body.arrayBuffer()).equals(data));

  t.like(await client.purchaseRemove(bought.token), { token: bought.token, count: 1 });
  const gone = await t.throwsAsync(client.locate(url));
  t.true(gone instanceof NotFoundError);
  t.like(gone, { status: 404, code: "PURCHASE_NOT_FOUND" });
});

test.serial("errors carry the prism's code and status, in the class of the status", async (t) => {
  const { prisms, admin } = cluster().info;
  const bogus = new PrismClient({ baseUrl: prisms[0]!.url, token: "x".repeat(43) });
  const unauthorized = await t.throwsAsync(bogus.validate());
  t.true(unauthorized instanceof UnauthorizedError);
  t.like(unauthorized, { status: 401, code: "UNAUTHORIZED" });
  const wrong = await t.throwsAsync(new PrismClient({ baseUrl: prisms[0]!.url }).login(admin.username, "nope"));
  t.true(wrong instanceof UnauthorizedError);
  t.like(wrong, { status: 401, code: "INVALID_CREDENTIALS" });

  const client = await loggedIn();
  const badHash = await t.throwsAsync(client.purchase({ hash: "not-a-hash", ext: "txt" }));
  t.true(badHash instanceof BadRequestError);
  t.like(badHash, { status: 400, code: "INVALID_HASH" });
  const missing = await t.throwsAsync(client.download("0".repeat(40)));
  t.true(missing instanceof NotFoundError);
  t.like(missing, { status: 404, code: "CONTENT_NOT_FOUND" });

  const unreadable = await t.throwsAsync(client.upload([{ path: "/nonexistent/file.bin" }]));
  t.true(unreadable instanceof OoseError);
  t.like(unreadable, { status: 0, code: "SOURCE_FAILED" });

  const closed = new PrismClient({ baseUrl: "http://127.0.0.1:1", retry: { retries: 0 } });
  const refused = await t.throwsAsync(closed.detail("0".repeat(40)));
  t.true(refused instanceof TransportError);
  t.like(refused, { status: 0, code: "TRANSPORT_FAILED" });
});

test.serial("a safe call is retried after a 503; an upload is not", async (t) => {
  const proxy = await faultyProxy(cluster().info.prisms[0]!.url);
  t.teardown(() => proxy.close());
  const client = await loggedIn({ baseUrl: proxy.url, retry: { retries: 2, minDelayMs: 50 } });
  const hash = (await client.upload([{ name: "r.bin", data: randomBytes(3000) }])).files.file!.hash;

  proxy.unavailable.set("/content/detail", 2);
  t.like(await client.detail(hash), { hash, exists: true });
  t.is(proxy.hits.get("/content/detail"), 3, "two 503s, then the answer");

  proxy.unavailable.set("/content/detail", 5);
  const exhausted = await t.throwsAsync(client.detail(hash));
  t.true(exhausted instanceof UnavailableError);
  t.like(exhausted, { status: 503, code: "BACKEND_UNAVAILABLE" });
  t.is(proxy.hits.get("/content/detail"), 6, "three more tries, then the 503 is the answer");

  proxy.hits.clear();
  proxy.unavailable.set("/content/upload", 1);
  const body = Readable.from([randomBytes(50_000)]);
  const upload = await t.throwsAsync(client.upload([{ name: "once.bin", data: body }]));
  t.true(upload instanceof UnavailableError);
  t.is(proxy.hits.get("/content/upload"), 1, "the upload's stream was sent once");
});

test.serial("timeouts: no answer, and an upload whose source stalls", async (t) => {
  const proxy = await faultyProxy(cluster().info.prisms[0]!.url);
  t.teardown(() => proxy.close());
  const client = await loggedIn({ baseUrl: proxy.url, timeoutMs: 400, retry: { retries: 1, minDelayMs: 50 } });
  proxy.silent.add("/user/session/validate");
  const started = Date.now();
  const err = await t.throwsAsync(client.validate());
  t.true(err instanceof TimeoutError);
  t.like(err, { status: 0, code: "TIMEOUT" });
  t.is(proxy.hits.get("/user/session/validate"), 2, "a safe call is tried again after a timeout");
  t.true(Date.now() - started < 5000);

  const direct = await loggedIn({ timeoutMs: 500 });
  const stalled = new Readable({ read() {} });
  stalled.push(randomBytes(10_000));
  const upload = await t.throwsAsync(direct.upload([{ name: "stall.bin", data: stalled }]));
  t.true(upload instanceof TimeoutError);
  t.like(upload, { status: 0, code: "TIMEOUT" });
  stalled.destroy();
});

test.serial("list pages through the caller's uploads, newest first; remove deletes one", async (t) => {
  const client = await loggedIn();
  const data = randomBytes(4000);
  const hash = (await client.upload([{ name: "mine.bin", data }])).files.file!.hash;
  const first = await client.list({ limit: 1 });
  t.like(first.files, [{ hash, ext: "bin", size: 4000, copies: 2 }]);
  t.truthy(first.next, "the earlier tests' uploads are on the next pages");
  const second = await client.list({ limit: 1, cursor: first.next });
  t.not(second.files[0]!.hash, hash);

  t.like(await client.remove(hash), { hash, deleted: true });
  t.like(await client.detail(hash), { exists: false, count: 0 });
  t.false((await client.list({ limit: 1000 })).files.some((f) => f.hash === hash));
});

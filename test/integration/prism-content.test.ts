import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { buffer } from "node:stream/consumers";
import test from "ava";
import { FormData, request } from "undici";
import { PrismClient } from "../../packages/client/src/index.js";
import { relativePath } from "../../app/core/layout.js";
import { useCluster } from "../helpers/cluster.js";
import { until } from "../helpers/fault.js";
import { allFiles, FOX, FOX_SHA1, holdersOnDisk, inventoryOf, loggedIn, zoneOf } from "../helpers/prism.js";

// The prism's content API on a real 2-prism, 4-store cluster: upload,
// dedupe, existence, download, static, retrieve and the bad inputs.

const cluster = useCluster(test, {
  extraEnv: (node) =>
    node.role === "prism"
      ? {
          OOSE_LIMITS__UPLOAD_MAX_BYTES: String(4 * 1024 * 1024),
          OOSE_LIMITS__BULK_MAX: "100",
          // prism1 may import from loopback (the test's server); prism2 keeps the default and refuses.
          ...(node.name === "prism1" ? { OOSE_RETRIEVE__ALLOW_PRIVATE: "true" } : {}),
        }
      : {},
});

const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");

test.serial("upload places 2 verified copies in different zones, on disk and in the inventory", async (t) => {
  const client = await loggedIn(cluster());
  const reply = await client.upload([{ name: "fox.txt", data: FOX, type: "text/plain" }], { fields: { note: "hi" } });
  t.is(reply.success, "File(s) uploaded");
  t.deepEqual(reply.data.fields, { note: "hi" });
  const file = reply.files.file!;
  t.like(file, { hash: FOX_SHA1, sha1: FOX_SHA1, hashType: "sha1", ext: "txt", name: "fox.txt", size: 16 });
  const disk = holdersOnDisk(cluster(), relativePath(FOX_SHA1, "txt"));
  t.is(disk.size, 2);
  for (const bytes of disk.values()) t.true(bytes.equals(FOX));
  const [a, b] = [...disk.keys()];
  t.not(zoneOf(cluster(), a!), zoneOf(cluster(), b!));
  const inventory = await inventoryOf(cluster(), FOX_SHA1);
  t.deepEqual(inventory.map((d) => d.store).sort(), [...disk.keys()].sort());
  for (const doc of inventory) t.like(doc, { size: 16, mimeExtension: "txt", relativePath: relativePath(FOX_SHA1, "txt") });
});

test.serial("existence answers right after upload, single and bulk, on both prisms", async (t) => {
  const data = randomBytes(1000);
  const hash = sha1(data);
  const [p1, p2] = [await loggedIn(cluster(), 0), await loggedIn(cluster(), 1)];
  await p1.upload([{ name: "fresh.bin", data }]);
  const single = await p2.detail(hash);
  t.like(single, { hash, exists: true, count: 2, mimeExtension: "bin" });
  t.is(single.map.length, 2);
  const bogus = `${hash.slice(0, 39)}${hash.endsWith("0") ? "1" : "0"}`;
  const bulk = await p2.detail([hash, bogus]);
  t.is(bulk[hash]!.count, 2);
  t.like(bulk[bogus], { exists: false, count: 0, map: [] });
  // exists is the private twin of detail: basic auth, not a session.
  const operator = new PrismClient({ baseUrl: cluster().info.prisms[1]!.url, auth: cluster().info.prismAuth });
  const viaExists = await operator.exists([hash]);
  t.is(viaExists[hash]?.count, 2, JSON.stringify(viaExists));
  t.is((await t.throwsAsync(p2.exists(hash)) as { status?: number }).status, 401);
});

test.serial("several files in one request, and a re-upload adds nothing", async (t) => {
  const client = await loggedIn(cluster());
  const files = [randomBytes(3000), randomBytes(5000), randomBytes(7000)];
  const reply = await client.upload(files.map((data, i) => ({ field: `f${i}`, name: `f${i}.dat`, data })));
  t.is(Object.keys(reply.files).length, 3);
  for (const [i, data] of files.entries()) {
    t.is(reply.files[`f${i}`]!.hash, sha1(data));
    t.is(holdersOnDisk(cluster(), relativePath(sha1(data), "dat")).size, 2);
  }
  const before = allFiles(cluster()).length;
  const again = await client.upload([{ name: "f0.dat", data: files[0]! }]);
  t.is(again.files.file!.added, 0);
  t.is(again.files.file!.copies.length, 2);
  t.is(allFiles(cluster()).length, before);
});

test.serial("download streams the bytes from a holder", async (t) => {
  const client = await loggedIn(cluster(), 1);
  t.true((await buffer(await client.download(FOX_SHA1))).equals(FOX));
  const err = await t.throwsAsync(client.download("0".repeat(40)));
  t.is((err as { status?: number }).status, 404);
});

test.serial("static redirects to a holder's nginx for allowed types, and never by the requested name", async (t) => {
  const client = await loggedIn(cluster());
  const location = await client.locate(client.staticUrl(FOX_SHA1, "anything.txt"));
  t.regex(location, new RegExp(`/static/${relativePath(FOX_SHA1, "txt")}$`));
  const res = await request(location);
  t.is(res.statusCode, 200);
  t.true(Buffer.from(await res.body.arrayBuffer()).equals(FOX));

  const video = randomBytes(2048);
  await client.upload([{ name: "clip.mp4", data: video, type: "video/mp4" }]);
  for (const name of ["clip.mp4", "clip.txt"]) {
    const denied = await request(`${cluster().info.prisms[0]!.url}/static/${sha1(video)}/${name}`);
    t.is(denied.statusCode, 403, name);
    t.like(await denied.body.json(), { code: "FORBIDDEN" });
  }
});

test.serial("retrieve imports from an allowed URL and refuses private addresses elsewhere", async (t) => {
  const payload = randomBytes(20_000);
  const server = http.createServer((req, res) => {
    if (req.url === "/hop") return res.writeHead(302, { location: "/file.bin" }).end();
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const p1 = await loggedIn(cluster(), 0);
    const got = await p1.retrieve(`${url}/hop`);
    t.like(got, { hash: sha1(payload), extension: "bin" });
    t.is(holdersOnDisk(cluster(), relativePath(sha1(payload), "bin")).size, 2);

    const p2 = await loggedIn(cluster(), 1);
    const err = await t.throwsAsync(p2.retrieve(`${url}/file.bin`));
    t.is((err as { status?: number }).status, 403);
    const scheme = await t.throwsAsync(p2.retrieve("file:///etc/passwd"));
    t.is((scheme as { status?: number }).status, 400);
  } finally {
    server.close();
  }
});

test.serial("bad input gets a clean 4xx and leaves nothing behind", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const base = c.info.prisms[0]!.url;
  const before = allFiles(c).sort();
  const post = async (path: string, body: string | FormData, headers: Record<string, string> = {}) => {
    const res = await request(`${base}${path}`, {
      method: "POST",
      headers: { "x-oose-token": client.token!, ...headers },
      body: body as string,
    });
    return { status: res.statusCode, body: (await res.body.json()) as { error?: string; code?: string } };
  };
  const form = (build: (f: FormData) => void) => {
    const f = new FormData();
    build(f);
    return f;
  };

  const noFile = await post("/content/upload", form((f) => f.append("note", "x")));
  t.is(noFile.status, 400);
  t.is(typeof noFile.body.error, "string");

  // The file placed before the bad field keeps its copies: an identical upload may have been answered with them.
  const placedFirst = randomBytes(100);
  const fieldAfter = await post(
    "/content/upload",
    form((f) => {
      f.append("file", new Blob([placedFirst]), "a.bin");
      f.append("hashType", "sha256");
    }),
  );
  t.is(fieldAfter.status, 400);

  const badType = await post(
    "/content/upload",
    form((f) => {
      f.append("hashType", "crc32");
      f.append("file", new Blob([randomBytes(100)]), "a.bin");
    }),
  );
  t.is(badType.status, 400);

  const tooBig = await post("/content/upload", form((f) => f.append("file", new Blob([randomBytes(5 * 1024 * 1024)]), "big.bin")));
  t.is(tooBig.status, 413);

  t.is((await post("/content/detail", "{not json", { "content-type": "application/json" })).status, 400);
  t.is((await post("/content/detail", JSON.stringify({ hash: "" }), { "content-type": "application/json" })).status, 400);
  t.is((await post("/content/detail", JSON.stringify({ hash: "zz" }), { "content-type": "application/json" })).status, 400);
  const many = Array.from({ length: 101 }, () => FOX_SHA1);
  t.is((await post("/content/detail", JSON.stringify({ hash: many }), { "content-type": "application/json" })).status, 400);

  for (const trick of [`/static/${FOX_SHA1}/..%2f..%2fetc%2fpasswd`, "/static/..%2f..%2f/x.txt", `/static/${FOX_SHA1.slice(2)}/x.txt`]) {
    const res = await request(`${base}${trick}`);
    await res.body.dump();
    t.true(res.statusCode >= 400 && res.statusCode < 500, `${trick} → ${res.statusCode}`);
  }
  const noAuth = await request(`${base}/content/detail`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
  t.is(noAuth.statusCode, 401);
  await noAuth.body.dump();

  // Stores drop abandoned stages as their requests close; then nothing new may remain on any disk but those copies.
  const kept = relativePath(sha1(placedFirst), "bin");
  const extra = () => allFiles(c).filter((f) => !f.endsWith(kept) && !before.includes(f));
  await until("abandoned stages dropped", async () => extra().length === 0, 10_000, 100).catch(() => undefined);
  t.is(holdersOnDisk(c, kept).size, 2);
  t.deepEqual(allFiles(c).filter((f) => !f.endsWith(kept)).sort(), before);
});

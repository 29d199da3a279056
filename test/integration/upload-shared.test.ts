import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import test from "ava";
import { relativePath } from "../../app/core/layout.js";
import { useCluster } from "../helpers/cluster.js";
import { holders, inventory, sha1, until } from "../helpers/fault.js";
import { loggedIn, storeRoot } from "../helpers/prism.js";

// Content is shared between uploads: a copy committed for one upload may be
// the copy another upload was answered with. A failed upload therefore never
// removes what it committed, and a duplicate is checked against the disks, not
// the inventory alone.

const cluster = useCluster(test, {
  http: true,
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? { OOSE_LIMITS__CLIENT_IDLE_MS: "3000" } : {}),
});

const fileOf = (data: Buffer) => {
  const hash = sha1(data);
  return { hash, data, token: "", relativePath: relativePath(hash, "bin") };
};

test.serial("an upload that fails after its first file keeps the copies another upload was answered with", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const data = randomBytes(200_000);
  const boundary = `----oose${randomBytes(8).toString("hex")}`;
  const req = http.request(new URL("/content/upload", c.info.prisms[0]!.url), {
    method: "POST",
    headers: { "content-type": `multipart/form-data; boundary=${boundary}`, "x-oose-token": client.token! },
  });
  // A status, or the error that closed the connection without one.
  const failed = new Promise<number | string>((resolve) => {
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", (err) => resolve(err.message));
  });
  // The first file, whole, then the start of a second part: the first is placed while the request stalls.
  req.write(`--${boundary}\r\nContent-Disposition: form-data; name="a"; filename="a.bin"\r\n\r\n`);
  req.write(data);
  req.write(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="b"; filename="b.bin"\r\n\r\n`);
  await until(
    "the first file's copies, on disk and recorded",
    async () => holders(c, fileOf(data)).length === 2 && (await inventory(c, sha1(data))).length === 2,
    10_000,
    20,
  );

  // Another client uploads the same bytes meanwhile, and is answered with those copies.
  const second = (await client.upload([{ name: "same.bin", data }])).files.file!;
  t.is(second.added, 0);
  t.is(second.copies.length, 2);

  // The stalled request fails now (the client sent nothing more).
  const status = await failed;
  req.destroy();
  t.is(status, 400);
  const onDisk = holders(c, fileOf(data)).sort();
  t.deepEqual(onDisk, second.copies.map((x) => x.split(":")[1]!).sort(), "the copies the second upload was given");
  t.deepEqual((await inventory(c, sha1(data))).map((d) => d.store).sort(), onDisk);
});

test.serial("a duplicate whose listed copies are gone from disk is stored again, not dropped", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const data = randomBytes(50_000);
  const first = (await client.upload([{ name: "d.bin", data }])).files.file!;
  // Both copies vanish behind the inventory's back; their docs stay.
  for (const copy of first.copies) {
    rmSync(path.join(storeRoot(c, copy.split(":")[1]!), "content", relativePath(first.hash, "bin")));
  }
  t.is(holders(c, fileOf(data)).length, 0);
  const again = (await client.upload([{ name: "d.bin", data }])).files.file!;
  t.is(again.added, 2, "stored again on two stores");
  t.is(holders(c, fileOf(data)).length, 2);
});

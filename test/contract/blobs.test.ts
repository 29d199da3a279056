import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import test from "ava";
import { BlobStore } from "../../app/adapters/disk/index.js";
import { MemoryBlobs } from "../../app/adapters/memory/blobs.js";
import type { Blobs } from "../../app/core/ports/blobs.js";
import { contract } from "../helpers/contract.js";

// One body of tests for the Blobs port, against the disk store (a temp dir)
// and the memory one: nothing is visible before a commit, one file per hash,
// ranges, and holds() telling the hashed file from one that replaced it.

interface Impl {
  blobs: Blobs;
  /** Temp files left (the disk's tmp folder); undefined where there is no such thing to look at. */
  temps(): string[] | undefined;
}

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");
const body = (s: string) => Readable.from([Buffer.from(s)]);

async function put(blobs: Blobs, data: string, ext = "txt") {
  const hash = sha1(data);
  const received = await blobs.receive("sha1", body(data), 1024);
  return blobs.commit(received, { hash, ext, type: "sha1" });
}

contract<Impl>(
  test,
  [
    {
      name: "disk",
      make: async () => {
        const root = mkdtempSync(path.join(os.tmpdir(), "oose-blobs-"));
        const blobs = new BlobStore(root);
        await blobs.init();
        return {
          port: { blobs, temps: () => readdirSync(blobs.tmpDir) },
          close: async () => rmSync(root, { recursive: true, force: true }),
        };
      },
    },
    {
      name: "memory",
      make: async () => {
        const blobs = new MemoryBlobs();
        await blobs.init();
        return { port: { blobs, temps: () => undefined } };
      },
    },
  ],
  {
    "a received file is hashed and invisible until committed; discarded, it is gone": async (t, { blobs, temps }) => {
      const data = "hello blobs";
      const received = await blobs.receive("sha1", body(data), 1024);
      t.like(received, { size: data.length, digest: sha1(data) });
      t.is(await blobs.find(sha1(data)), undefined);
      await blobs.discard(received.tmp);
      await blobs.discard(received.tmp);
      t.deepEqual(temps() ?? [], []);
      const blob = await put(blobs, data);
      t.like(blob, { hash: sha1(data), ext: "txt", size: data.length });
      t.is(blob.relativePath, `${sha1(data).match(/../g)!.join("/")}.txt`);
      t.like(await blobs.find(sha1(data)), { ext: "txt", size: data.length, relativePath: blob.relativePath });
      t.deepEqual(temps() ?? [], []);
    },

    "an upload past the limit fails and leaves nothing": async (t, { blobs, temps }) => {
      await t.throwsAsync(blobs.receive("sha1", body("x".repeat(2000)), 1024), {
        instanceOf: Error,
        message: /exceeds/,
      });
      t.deepEqual(temps() ?? [], []);
    },

    "reads whole or by range; one file per hash, the newest extension wins": async (t, { blobs }) => {
      const data = "0123456789";
      const blob = await put(blobs, data, "txt");
      const whole = await blobs.open(blob);
      t.is(whole!.size, 10);
      t.is(await text(whole!.stream), data);
      const part = await blobs.open(blob, { start: 2, end: 4 });
      t.is(await text(part!.stream), "234");
      await put(blobs, data, "bin");
      t.like(await blobs.find(sha1(data)), { ext: "bin" });
      t.is(await blobs.open(blob), undefined, "the old extension's file is gone");
    },

    "a digest names the file read; a later upload of the hash is not that file": async (t, { blobs }) => {
      const data = "digest me";
      const blob = await put(blobs, data);
      const sum = await blobs.digest(blob);
      t.like(sum, { digest: sha1(data), size: data.length });
      t.true(await blobs.holds(blob, sum!));
      const again = await put(blobs, data);
      t.false(await blobs.holds(blob, sum!), "replaced since it was hashed");
      t.true(await blobs.remove(again));
      t.false(await blobs.remove(again));
      t.is(await blobs.find(sha1(data)), undefined);
      t.is(await blobs.digest(again), undefined);
    },

    "a hash no path can hold is refused": async (t, { blobs }) => {
      await t.throwsAsync(blobs.find("../../etc/passwd"), { message: /Invalid hash/ });
      await t.throwsAsync(blobs.find("zz"), { message: /Invalid hash/ });
    },
  },
);

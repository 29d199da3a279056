import { randomBytes } from "node:crypto";
import test from "ava";
import { FormData, request } from "undici";
import { useCluster } from "../helpers/cluster.js";
import { holders, inventory, type Stored, sha1, until } from "../helpers/fault.js";
import { oose } from "../helpers/ops.js";
import { loggedIn } from "../helpers/prism.js";
import { relativePath } from "../../app/core/layout.js";

// Nothing acknowledged is lost under churn: uploads, re-uploads of the same
// bytes, uploads that fail after placing a file, trims below the replica
// count and scrubs, interleaved; then every acknowledged file is back at its
// count, each copy whole on disk and recorded.

const cluster = useCluster(test, {
  extraEnv: (node): Record<string, string> =>
    node.role === "prism"
      ? { OOSE_HEAL__INTERVAL: "500", OOSE_HEAL__GRACE: "500", OOSE_REPAIR__ENABLED: "false" }
      : { OOSE_SCRUB__CADENCE: "2000", OOSE_SCRUB__INTERVAL: "500" },
});

/** A deterministic sequence, so a failure can be replayed. */
function steps(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % 10;
  });
}

test("uploads, re-uploads, failed uploads, trims and scrubs: every acknowledged file keeps its copies", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const acked = new Map<string, Buffer>();
  const counts = { upload: 0, reupload: 0, failed: 0, trim: 0 };
  const failedUpload = async (data: Buffer) => {
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(data)]), "f.bin");
    form.append("late", "field after a file");
    const res = await request(`${c.info.prisms[1]!.url}/content/upload`, {
      method: "POST",
      headers: { "x-oose-token": client.token! },
      body: form,
    });
    await res.body.dump();
    t.is(res.statusCode, 400);
  };
  const pick = (i: number) => [...acked.values()][i % acked.size]!;
  let trims = 0;
  for (const [i, step] of steps(60, 7).entries()) {
    if (acked.size === 0 || step < 4) {
      const data = randomBytes(1024 + i * 512);
      const reply = await client.upload([{ name: `c${i}.bin`, data }]);
      t.is(reply.files.file!.copies.length, 2);
      acked.set(sha1(data), data);
      counts.upload++;
    } else if (step < 6) {
      const reply = await client.upload([{ name: `r${i}.bin`, data: pick(i) }]);
      t.is(reply.files.file!.copies.length, 2);
      counts.reupload++;
    } else if (step < 8) {
      // Its file may land before the request fails: it is content, never acknowledged here.
      await failedUpload(step === 6 ? pick(i) : randomBytes(2048));
      counts.failed++;
    } else if (trims < 6) {
      trims++;
      const run = await oose(c, "prism1", ["clonetool", "--hash", sha1(pick(i)), "--desired", "1", "--json"]);
      t.true(run.code === 0 || run.code === 1, run.stderr);
      counts.trim++;
    }
  }
  t.log(`churn: ${JSON.stringify(counts)}, ${acked.size} files acknowledged`);

  const file = (data: Buffer): Stored => ({ hash: sha1(data), data, token: "", relativePath: relativePath(sha1(data), "bin") });
  await until(
    "every acknowledged file back at 2 whole copies",
    async () => [...acked.values()].every((d) => holders(c, file(d)).length >= 2),
    60_000,
    500,
  );
  for (const data of acked.values()) {
    const onDisk = holders(c, file(data)).sort();
    t.true(onDisk.length >= 2, `${sha1(data)}: ${onDisk.join(", ")}`);
    const docs = (await inventory(c, sha1(data))).map((d) => d.store).sort();
    t.deepEqual(docs, onDisk, `${sha1(data)}: recorded exactly where it is on disk`);
  }
});

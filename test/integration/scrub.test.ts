import { openSync, readdirSync, readSync, rmSync, writeSync, closeSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import test from "ava";
import { Redis } from "ioredis";
import type { ScrubStatus } from "../../app/jobs/scrub.js";
import { useCluster } from "../helpers/cluster.js";
import { holders, inventory, type Stored, storeFiles, until } from "../helpers/fault.js";
import { json, oose, sha1 } from "../helpers/ops.js";
import { loggedIn, storeRoot } from "../helpers/prism.js";

// The scrub on a 2-prism, 4-store cluster (replicas 2), with a cadence of a
// second so every copy is re-hashed all the time: a copy with one byte
// flipped is found, removed with its doc, and healed from the good copy; a
// store whose files were deleted loses their docs, and the heal makes the
// copies again.

const cluster = useCluster(test, {
  extraEnv: (): Record<string, string> => ({
    OOSE_SCRUB__CADENCE: "1000",
    OOSE_SCRUB__INTERVAL: "400",
    OOSE_HEAL__INTERVAL: "400",
    OOSE_HEAL__GRACE: "500",
  }),
});

let files: Stored[] = [];

test.before(async () => {
  files = await storeFiles(await loggedIn(cluster()), 20, 48 * 1024);
});

const stores = () => cluster().info.stores.map((s) => s.name);
const onDisk = (store: string, f: Stored) => path.join(storeRoot(cluster(), store), "content", f.relativePath);

async function scrubStatus(): Promise<Map<string, ScrubStatus>> {
  const { sentinels, name } = cluster().info.redis;
  const redis = new Redis({ sentinels, name, lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
  try {
    const raw = await redis.mget(...stores().map((s) => `oose:scrub:${s}`));
    return new Map(raw.flatMap((r, i) => (r ? [[stores()[i]!, JSON.parse(r) as ScrubStatus]] : [])));
  } finally {
    redis.disconnect();
  }
}

const totalCorrupt = async () => [...(await scrubStatus()).values()].reduce((n, s) => n + s.total.corrupt, 0);

/** The file has 2 good copies, no bad one anywhere, and docs that match the disks, each verified after `since`. */
async function whole(f: Stored, since: number): Promise<boolean> {
  const good = holders(cluster(), f);
  if (good.length !== 2) return false;
  if (stores().some((s) => existsSync(onDisk(s, f)) && sha1(readFileSync(onDisk(s, f))) !== f.hash)) return false;
  const docs = await inventory(cluster(), f.hash);
  if (
    docs
      .map((d) => d.store)
      .sort()
      .join() !== holders(cluster(), f).sort().join()
  )
    return false;
  return docs.every((d) => (d.verifiedAt ?? 0) > since);
}

function flipByte(file: string, at: number): void {
  const fd = openSync(file, "r+");
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

test.serial(
  "one byte flipped in one copy of each of 20 files: the scrub finds all 20 and each is healed",
  async (t) => {
    const c = cluster();
    t.true(
      files.every((f) => holders(c, f).length === 2),
      "every file starts with 2 good copies",
    );
    const before = await totalCorrupt();
    t.is(before, 0, "nothing corrupt before the flips");
    const flippedAt = Date.now();
    for (const [i, f] of files.entries()) {
      const store = holders(c, f)[i % 2]!;
      flipByte(onDisk(store, f), (i * 997) % f.data.length);
    }
    t.true(
      files.every((f) => holders(c, f).length === 1),
      "each file has one good copy left",
    );

    const ms = await until(
      "the scrub finds all 20 and every file is whole again",
      async () => {
        if ((await totalCorrupt()) < files.length) return false;
        for (const f of files) if (!(await whole(f, flippedAt))) return false;
        return true;
      },
      90_000,
      250,
    );
    t.is(await totalCorrupt(), files.length, "exactly the 20 flipped copies were found corrupt");
    t.log(`20 corrupt copies found and healed ${(ms / 1000).toFixed(1)} s after the flips (cadence 1 s)`);

    const report = await oose(c, "prism1", ["status", "--json"]);
    t.is(report.code, 0, report.stderr);
    const s = json(report);
    t.is(s.scrub.length, 4);
    t.is(
      s.scrub.reduce((n: number, x: { status: ScrubStatus }) => n + x.status.total.corrupt, 0),
      files.length,
    );
    t.truthy(s.heal?.runner, "the heal reports its pass");
    const table = await oose(c, "prism1", ["status"]);
    t.is(table.code, 0, table.stderr);
    t.regex(table.stdout, /heal: /);
    for (const store of stores()) t.regex(table.stdout, new RegExp(`^${store} +(done|running)`, "m"));
  },
);

test.serial(
  "a store whose files are deleted: the scrub drops their docs and the heal brings each back to 2 copies",
  async (t) => {
    const c = cluster();
    const count = (s: string) => files.filter((f) => holders(c, f).includes(s)).length;
    const victim = [...stores()].sort((a, b) => count(b) - count(a))[0]!;
    const held = files.filter((f) => holders(c, f).includes(victim));
    t.true(held.length > 0);
    const missingBefore = (await scrubStatus()).get(victim)?.total.missing ?? 0;

    const lostAt = Date.now();
    const content = path.join(storeRoot(c, victim), "content");
    for (const entry of readdirSync(content)) rmSync(path.join(content, entry), { recursive: true, force: true });
    t.is(count(victim), 0);

    // The store stays writable, so a new copy may land on it again: what counts is that each file is whole.
    await until(
      "every file the store held back to 2 good copies",
      async () => {
        for (const f of held) if (!(await whole(f, lostAt))) return false;
        return true;
      },
      90_000,
      250,
    );
    const missing = ((await scrubStatus()).get(victim)?.total.missing ?? 0) - missingBefore;
    t.true(missing >= held.length, `the scrub dropped ${missing} docs of missing files`);
  },
);

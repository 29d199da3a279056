import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import anyTest, { type TestFn } from "ava";
import { defaultShape } from "./fixtures/legacy.js";
import { seed } from "./fixtures/seed.js";
import { cli, dump, dumpRedis, report, type Services, useServices } from "./helpers.js";

// The runner through the real `oose` command: kill it by pid and resume, two at
// once, and a migration that throws.

const test = anyTest as TestFn;
const services = useServices(test);

const conn = (s: Services, database: string, prefix: string) => [
  "--couchdb",
  s.couchUrl,
  "--database",
  database,
  "--redis",
  s.redisUrl,
  "--redis-prefix",
  prefix,
];

async function getDoc(s: Services, db: string, id: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await s.server.use(db).get(id)) as unknown as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A folder of throwaway migrations (plain JS in .ts files). */
function migrationsDir(s: Services, name: string, files: Record<string, string>): string {
  const dir = path.join(s.dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
  for (const [file, body] of Object.entries(files)) writeFileSync(path.join(dir, file), body);
  return dir;
}

const withoutCreatedAt = (d: Record<string, unknown> | undefined) =>
  Object.fromEntries(
    Object.entries(d ?? {}).map(([id, doc]) => {
      const { createdAt, ...rest } = doc as Record<string, unknown>;
      return [id, rest];
    }),
  );

test("a runner killed mid-way resumes to the same result as an uninterrupted run", async (t) => {
  const s = services();
  // Enough batches of 40 that the kill lands well inside the split.
  const inventory = 3000;
  const shape = defaultShape({ inventory, purchases: 30, malformedEvery: 97 });
  for (const database of ["killed", "straight"]) {
    await seed("2.0.3", shape, { server: s.server, database, batch: 2000 });
  }
  const flags = ["--batch-size", "40", "--no-warm-views", "--lease-ms", "6000", "--json"];
  const straight = await cli(["migrate", "up", ...conn(s, "straight", "ps"), ...flags]).done;
  t.is(straight.code, 0, straight.stdout + straight.stderr);

  const first = cli(["migrate", "up", ...conn(s, "killed", "pk"), ...flags]);
  const recordId = "migration:0002-legacy-2.0-split";
  let scannedAtKill = 0;
  await until("the split to pass a quarter", async () => {
    const rec = await getDoc(s, "killed-meta", recordId);
    scannedAtKill = (rec?.checkpoint as { scanned?: number } | undefined)?.scanned ?? 0;
    return scannedAtKill >= inventory / 4;
  });
  first.kill("SIGKILL");
  const killed = await first.done;
  t.not(killed.code, 0);
  const rec = await getDoc(s, "killed-meta", recordId);
  t.is(rec?.status, "running", "the killed run left its record unfinished");
  t.falsy(rec?.finishedAt);

  // While its lease holds, a new runner refuses, naming the holder (asserted only when the
  // new runner finished before the lease ran out: on a slow machine it may start too late).
  const lease = (await getDoc(s, "killed-meta", "lock:migrate"))?.expiresAt as number;
  const early = await cli(["migrate", "up", ...conn(s, "killed", "pk"), ...flags, "--to", "1"]).done;
  if (Date.now() < lease) {
    t.is(early.code, 3, early.stdout + early.stderr);
    t.regex(report(early).error, new RegExp(`pid ${first.pid}\\b`));
  } else {
    t.log("the lease ran out before the second runner started; refusal not checked here");
  }

  await until("the lease to run out", async () => {
    const lock = await getDoc(s, "killed-meta", "lock:migrate");
    return !lock || (lock.expiresAt as number) < Date.now();
  });
  const resumed = await cli(["migrate", "up", ...conn(s, "killed", "pk"), ...flags]).done;
  t.is(resumed.code, 0, resumed.stdout + resumed.stderr);
  const r = report(resumed);
  const split = r.results.find((x: { id: string }) => x.id === "0002-legacy-2.0-split");
  t.true(split.resumed);
  t.true(
    split.counts.moved + split.counts.exists >= inventory - Math.floor(inventory / 97),
    JSON.stringify(split.counts),
  );

  for (const kind of ["peer", "inventory", "heartbeat"]) {
    t.deepEqual(
      withoutCreatedAt(await dump(s.server, `killed-${kind}`)),
      withoutCreatedAt(await dump(s.server, `straight-${kind}`)),
      `${kind}: same docs as the uninterrupted run`,
    );
  }
  const rename = (d: Record<string, unknown>, from: string) =>
    Object.fromEntries(Object.entries(d).map(([k, v]) => [k.replace(`${from}:`, "x:"), v]));
  t.deepEqual(rename(await dumpRedis(s.redis, "pk"), "pk"), rename(await dumpRedis(s.redis, "ps"), "ps"));
  const done = await getDoc(s, "killed-meta", recordId);
  t.is(done?.status, "done");
  t.is(done?.runs, 2);
  t.falsy(done?.checkpoint, "the checkpoint is cleared once done");
});

test("two runners at once: the second refuses", async (t) => {
  const s = services();
  const release = path.join(s.dir, "slow-release");
  // The first runner's migration waits until the test lets it go (after the second runner has answered).
  const dir = migrationsDir(s, "slow", {
    "0001-slow.js": `import { existsSync } from "node:fs";
export default { description: "waits for the test", async up(ctx) {
  for (let i = 0; i < 600 && !existsSync(${JSON.stringify(release)}); i++) {
    ctx.signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, 100));
  }
  ctx.counts.moved++;
} };\n`,
  });
  const args = ["migrate", "up", "--couchdb", s.couchUrl, "--database", "twice", "--dir", dir, "--json"];
  const a = cli(args);
  await until("the first runner's lock", async () => (await getDoc(s, "twice-meta", "lock:migrate")) !== undefined);
  const b = await cli(args).done;
  writeFileSync(release, "");
  const first = await a.done;
  t.is(b.code, 3, b.stdout + b.stderr);
  t.regex(report(b).error, new RegExp(`another migration runner holds the lock: pid ${a.pid}\\b`));
  t.is(first.code, 0, first.stdout + first.stderr);
  t.like(report(first).results[0], { id: "0001-slow", outcome: "applied", counts: { moved: 1 } });
  t.is(await getDoc(s, "twice-meta", "lock:migrate"), undefined, "the lock is released");
});

test("a migration that throws: non-zero exit naming it, record left unfinished", async (t) => {
  const s = services();
  const dir = migrationsDir(s, "boom", {
    "0001-fine.js": `export default { description: "fine", async up(ctx) { ctx.counts.moved += 2; } };\n`,
    "0002-boom.js": `export default { description: "throws", async up(ctx) {
      ctx.counts.moved++; await ctx.checkpoint.set({ at: "halfway" }); throw new Error("disk on fire");
    } };\n`,
    "0003-never.js": `export default { description: "never reached", async up() {} };\n`,
  });
  const base = ["--couchdb", s.couchUrl, "--database", "boom", "--dir", dir];
  const run = await cli(["migrate", "up", ...base]).done;
  t.is(run.code, 1, run.stdout + run.stderr);
  t.regex(run.stdout, /FAILED: 0002-boom: disk on fire/);
  t.regex(run.stdout, /0001-fine\s+applied\s+moved 2/);

  const fine = await getDoc(s, "boom-meta", "migration:0001-fine");
  t.is(fine?.status, "done");
  t.truthy(fine?.finishedAt);
  t.regex(String(fine?.checksum), /^[0-9a-f]{64}$/);
  const boom = await getDoc(s, "boom-meta", "migration:0002-boom");
  t.is(boom?.status, "failed");
  t.falsy(boom?.finishedAt, "no finish time: the migration is not done");
  t.is(boom?.error, "disk on fire");
  t.deepEqual(boom?.checkpoint, { at: "halfway" }, "its checkpoint is kept for the next run");
  t.is(await getDoc(s, "boom-meta", "migration:0003-never"), undefined);
  t.is(await getDoc(s, "boom-meta", "lock:migrate"), undefined, "the lock is released after a failure");

  const status = await cli(["migrate", "status", ...base, "--json"]).done;
  t.is(status.code, 0);
  const rows = report(status).rows.map((r: { id: string; state: string }) => `${r.id}=${r.state}`);
  t.deepEqual(rows, ["0001-fine=done", "0002-boom=failed", "0003-never=pending"]);

  const dry = await cli(["migrate", "up", ...base, "--dry-run", "--to", "1"]).done;
  t.is(dry.code, 0, dry.stdout + dry.stderr);
  t.regex(dry.stdout, /dry run: nothing was written/);
  t.regex(dry.stdout, /already applied: 0001-fine/);
});

test("down reverts the last migration, or those above --to, newest first; one without a down step stops it", async (t) => {
  const s = services();
  const trail = path.join(s.dir, "down-trail");
  const step = (id: string, withDown: boolean) => `import { appendFileSync } from "node:fs";
export default { description: ${JSON.stringify(id)},
  async up(ctx) { if (!ctx.dryRun) appendFileSync(${JSON.stringify(trail)}, "up ${id}\\n"); ctx.counts.moved++; },
  ${withDown ? `async down(ctx) { if (!ctx.dryRun) appendFileSync(${JSON.stringify(trail)}, "down ${id}\\n"); ctx.counts.moved++; },` : ""}
};\n`;
  const dir = migrationsDir(s, "downs", {
    "0001-a.js": step("0001-a", true),
    "0002-b.js": step("0002-b", false),
    "0003-c.js": step("0003-c", true),
    "0004-d.js": step("0004-d", true),
  });
  const base = ["--couchdb", s.couchUrl, "--database", "downs", "--dir", dir];
  const states = async () => {
    const status = await cli(["migrate", "status", ...base, "--json"]).done;
    return report(status).rows.map((r: { id: string; state: string }) => `${r.id}=${r.state}`);
  };
  const trailLines = () => readFileSync(trail, "utf8").trim().split("\n");
  t.is((await cli(["migrate", "up", ...base]).done).code, 0);

  const dry = await cli(["migrate", "down", ...base, "--dry-run", "--to", "2"]).done;
  t.is(dry.code, 0, dry.stdout + dry.stderr);
  t.regex(dry.stdout, /0004-d\s+would revert/);
  t.deepEqual(
    await states(),
    ["0001-a=done", "0002-b=done", "0003-c=done", "0004-d=done"],
    "a dry run changes nothing",
  );

  t.is((await cli(["migrate", "down", ...base]).done).code, 0);
  t.deepEqual(await states(), ["0001-a=done", "0002-b=done", "0003-c=done", "0004-d=pending"], "only the last one");

  const refused = await cli(["migrate", "down", ...base, "--to", "0"]).done;
  t.not(refused.code, 0);
  t.regex(refused.stdout + refused.stderr, /0002-b cannot be reverted/);
  t.deepEqual(
    await states(),
    ["0001-a=done", "0002-b=done", "0003-c=done", "0004-d=pending"],
    "refused before any step ran",
  );

  t.is((await cli(["migrate", "down", ...base, "--to", "2"]).done).code, 0);
  t.deepEqual(trailLines(), ["up 0001-a", "up 0002-b", "up 0003-c", "up 0004-d", "down 0004-d", "down 0003-c"]);
  t.deepEqual(await states(), ["0001-a=done", "0002-b=done", "0003-c=pending", "0004-d=pending"]);
  t.is((await cli(["migrate", "up", ...base]).done).code, 0, "reverted migrations apply again");
  t.deepEqual(trailLines().slice(-2), ["up 0003-c", "up 0004-d"]);
});

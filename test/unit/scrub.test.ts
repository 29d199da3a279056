import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import pino from "pino";
import { MemoryInventory } from "../../app/adapters/memory/inventory.js";
import { MemoryJobState } from "../../app/adapters/memory/job-state.js";
import { parseConfig } from "../../app/config.js";
import type { InventoryDoc } from "../../app/core/inventory.js";
import { ContentNotFound } from "../../app/errors.js";
import { Scrub, type ScrubStatus } from "../../app/jobs/scrub.js";

// The scrub over the memory ports: only copies past the cadence are hashed, corrupt
// and missing ones are counted (no copy is skipped when their docs go while
// the pages are read), a pass cut short keeps its counts, and a content folder that is not
// there pauses it.

const NOW = Date.parse("2026-01-20T00:00:00Z");
const DAY = 86_400_000;

function build(docs: InventoryDoc[], verdict: (hash: string) => "ok" | "fail" | "gone" = () => "ok") {
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), "oose-scrub-unit-"));
  mkdirSync(path.join(dataRoot, "content"));
  const config = parseConfig({
    role: "store",
    name: "s1",
    prism: "prism1",
    advertiseUrl: "http://127.0.0.1:5972",
    dataRoot,
    couchdb: { url: "http://127.0.0.1:5984" },
    redis: { url: "redis://127.0.0.1:6379" },
    auth: { prism: { username: "p", password: "p" }, store: { username: "s", password: "s" } },
    signingKey: "0123456789abcdef",
    scrub: { pageSize: 2, concurrency: 1, bytesPerSecond: 1e12 },
  });
  const inventory = new MemoryInventory();
  const state = new MemoryJobState();
  const hashed: string[] = [];
  // The store's verify: a good copy's doc gets verifiedAt, a corrupt or missing one's doc goes.
  const content = {
    async verify(hash: string) {
      hashed.push(hash);
      const v = verdict(hash);
      const current = await inventory.getCopy(hash, "prism1", "s1");
      if (v === "ok" && current) await inventory.record({ ...current, verifiedAt: NOW });
      if (v !== "ok") await inventory.remove(hash, "prism1", "s1");
      if (v === "gone") throw new ContentNotFound();
      return {
        status: v,
        verifiedAt: v === "ok" ? NOW : null,
        actualHash: v === "ok" ? hash : "bad",
        verifySkipped: false,
      };
    },
  };
  const scrub = new Scrub({
    inventory,
    state,
    content,
    config,
    log: pino({ level: "silent" }),
    now: () => NOW,
  });
  const status = () => state.read<ScrubStatus>(KEY);
  return { scrub, hashed, state, status, dataRoot, ready: Promise.all(docs.map((d) => inventory.record(d))) };
}

const KEY = "oose:scrub:s1";

async function setup(docs: InventoryDoc[], verdict?: (hash: string) => "ok" | "fail" | "gone") {
  const f = build(docs, verdict);
  await f.ready;
  return f;
}

const doc = (hash: string, verifiedAt: number | null): InventoryDoc => ({
  hash,
  prism: "prism1",
  store: "s1",
  size: 100,
  mimeType: "application/octet-stream",
  mimeExtension: "bin",
  relativePath: `${hash}.bin`,
  createdAt: "2026-01-01T00:00:00Z",
  verifiedAt,
});

test("only copies verified longer ago than the cadence are hashed; the oldest verification is kept", async (t) => {
  const f = await setup([doc("a", NOW - 15 * DAY), doc("b", NOW - DAY), doc("c", null), doc("d", NOW - 3 * DAY)]);
  await f.scrub.run();
  t.deepEqual(f.hashed, ["a", "c"]);
  t.like(await f.status(), { state: "done", seen: 4, checked: 2, bytes: 200, corrupt: 0, missing: 0, unverified: 0 });
  t.is((await f.status())?.oldestVerifiedAt, NOW - 3 * DAY);
});

test("corrupt and missing copies are counted, and no copy is skipped when their docs go", async (t) => {
  const docs = ["a", "b", "c", "d", "e"].map((h) => doc(h, null));
  const f = await setup(docs, (h) => (h === "b" ? "fail" : h === "c" ? "gone" : "ok"));
  await f.scrub.run();
  t.deepEqual(f.hashed, ["a", "b", "c", "d", "e"]);
  t.like(await f.status(), { checked: 4, corrupt: 1, missing: 1, total: { checked: 4, corrupt: 1, missing: 1 } });
  await f.scrub.run();
  t.like(await f.status(), { state: "done", checked: 4 }, "a pass finished within the interval is not run again");
});

test("a pass cut short resumes with its counts; a new pass keeps the totals and the last pass", async (t) => {
  const f = await setup([doc("a", null)]);
  const saved = {
    state: "scrubbing",
    store: "s1",
    cursor: "z",
    seen: 9,
    checked: 3,
    bytes: 300,
    corrupt: 1,
    missing: 0,
    failed: 0,
    oldestVerifiedAt: 1,
    unverified: 0,
    startedAt: "2026-01-19T00:00:00Z",
    ms: 10,
    bytesPerSec: 0,
    total: { checked: 7, bytes: 700, corrupt: 2, missing: 0 },
  } satisfies ScrubStatus;
  await f.state.write(KEY, saved);
  await f.scrub.run();
  t.like(await f.status(), { state: "done", seen: 1, checked: 4, corrupt: 1, total: { checked: 8, corrupt: 2 } });
  await f.state.write(KEY, { ...(await f.status()), finishedAt: new Date(NOW - 2 * 3_600_000).toISOString() });
  await f.scrub.run();
  t.like(await f.status(), { checked: 0, total: { checked: 8 }, last: { checked: 4 } });
});

test("a content folder that is gone (an unmounted disk) pauses the scrub: no doc is dropped", async (t) => {
  const f = await setup([doc("a", null), doc("b", null)], () => "gone");
  rmSync(path.join(f.dataRoot, "content"), { recursive: true });
  await f.scrub.run();
  t.deepEqual(f.hashed, []);
  t.like(await f.status(), { state: "scrubbing", missing: 0 });
});

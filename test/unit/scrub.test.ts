import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import type { Redis } from "ioredis";
import pino from "pino";
import type { Couch } from "../../app/adapters/couch/index.js";
import { parseConfig } from "../../app/config.js";
import type { InventoryDoc } from "../../app/core/inventory.js";
import { ContentNotFound } from "../../app/errors.js";
import { Scrub, type ScrubStatus } from "../../app/jobs/scrub.js";
import type { StoreContent } from "../../app/store/content.js";

// The scrub against fakes: only copies past the cadence are hashed, corrupt
// and missing ones are counted (no copy is skipped when their docs go while
// the pages are read), a pass cut short keeps its counts, and a content folder that is not
// there pauses it.

const NOW = Date.parse("2026-01-20T00:00:00Z");
const DAY = 86_400_000;

function setup(docs: InventoryDoc[], verdict: (hash: string) => "ok" | "fail" | "gone" = () => "ok") {
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
  let rows = [...docs];
  const kv = new Map<string, string>();
  const redis = {
    async get(k: string) {
      return kv.get(k) ?? null;
    },
    async set(k: string, v: string) {
      kv.set(k, v);
      return "OK";
    },
  };
  // Introduced as PouchDB Server, so the pages come from _all_docs in key order.
  const id = (d: InventoryDoc) => `${d.hash}:prism1:s1`;
  const couch = {
    server: { request: async () => ({ "express-pouchdb": "fake" }) },
    db: () => ({
      async list(o: { limit: number; startkey?: string }) {
        const from = rows
          .filter((d) => o.startkey === undefined || id(d) >= o.startkey)
          .sort((x, y) => (id(x) < id(y) ? -1 : 1));
        return { rows: from.slice(0, o.limit).map((d) => ({ id: id(d), doc: { ...d, _id: id(d), _rev: "1" } })) };
      },
    }),
  };
  const hashed: string[] = [];
  const content = {
    async verify(hash: string) {
      hashed.push(hash);
      const v = verdict(hash);
      rows =
        v === "ok"
          ? rows.map((d) => (d.hash === hash ? { ...d, verifiedAt: NOW } : d))
          : rows.filter((d) => d.hash !== hash);
      if (v === "gone") throw new ContentNotFound();
      return { status: v, verifiedAt: v === "ok" ? NOW : null, actualHash: v === "ok" ? hash : "bad" };
    },
  };
  const scrub = new Scrub({
    couch: couch as unknown as Couch,
    redis: redis as unknown as Redis,
    content: content as unknown as Pick<StoreContent, "verify">,
    config,
    log: pino({ level: "silent" }),
    now: () => NOW,
  });
  const status = () => JSON.parse(kv.get("oose:scrub:s1") ?? "null") as ScrubStatus | null;
  return { scrub, hashed, kv, status, dataRoot };
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
  const f = setup([doc("a", NOW - 15 * DAY), doc("b", NOW - DAY), doc("c", null), doc("d", NOW - 3 * DAY)]);
  await f.scrub.run();
  t.deepEqual(f.hashed, ["a", "c"]);
  t.like(f.status(), { state: "done", seen: 4, checked: 2, bytes: 200, corrupt: 0, missing: 0, unverified: 0 });
  t.is(f.status()?.oldestVerifiedAt, NOW - 3 * DAY);
});

test("corrupt and missing copies are counted, and no copy is skipped when their docs go", async (t) => {
  const docs = ["a", "b", "c", "d", "e"].map((h) => doc(h, null));
  const f = setup(docs, (h) => (h === "b" ? "fail" : h === "c" ? "gone" : "ok"));
  await f.scrub.run();
  t.deepEqual(f.hashed, ["a", "b", "c", "d", "e"]);
  t.like(f.status(), { checked: 4, corrupt: 1, missing: 1, total: { checked: 4, corrupt: 1, missing: 1 } });
  await f.scrub.run();
  t.like(f.status(), { state: "done", checked: 4 }, "a pass finished within the interval is not run again");
});

test("a pass cut short resumes with its counts; a new pass keeps the totals and the last pass", async (t) => {
  const f = setup([doc("a", null)]);
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
  f.kv.set("oose:scrub:s1", JSON.stringify(saved));
  await f.scrub.run();
  t.like(f.status(), { state: "done", seen: 1, checked: 4, corrupt: 1, total: { checked: 8, corrupt: 2 } });
  f.kv.set("oose:scrub:s1", JSON.stringify({ ...f.status(), finishedAt: new Date(NOW - 2 * 3_600_000).toISOString() }));
  await f.scrub.run();
  t.like(f.status(), { checked: 0, total: { checked: 8 }, last: { checked: 4 } });
});

test("a content folder that is gone (an unmounted disk) pauses the scrub: no doc is dropped", async (t) => {
  const f = setup([doc("a", null), doc("b", null)], () => "gone");
  rmSync(path.join(f.dataRoot, "content"), { recursive: true });
  await f.scrub.run();
  t.deepEqual(f.hashed, []);
  t.like(f.status(), { state: "scrubbing", missing: 0 });
});

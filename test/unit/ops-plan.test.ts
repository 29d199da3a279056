import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import type { StoredCopy } from "../../app/core/ports/inventory.js";
import { parseCopyId } from "../../app/core/inventory.js";
import { relativePath } from "../../app/core/layout.js";
import { manualProblem, plan, type Selector, selected, selectorProblem } from "../../app/jobs/clonetool/plan.js";
import { hashOfPath } from "../../app/jobs/clonetool/sources.js";
import { bucketMs, windowBuckets } from "../../app/jobs/hot-counter.js";
import { coolingDrops, deliveryLoad, wantedCopies } from "../../app/jobs/hot-plan.js";
import { desiredDoc, docMatches } from "../../app/jobs/scan.js";
import { SeenHashes } from "../../app/jobs/scan-seen.js";
import { walkTree } from "../../app/jobs/scan-walk.js";
import { isDue } from "../../app/jobs/verify.js";

// The pure parts of the operator tools: clonetool's selection and actions,
// hot scaling's arithmetic, the scan's doc rules and its directory walk.

const H = "a03f181dc7dedcfb577511149b8844711efdb04f";
const desired2: Selector = { desired: 2 };

test("clonetool: no selector means below desired; a selected file is brought to desired", (t) => {
  t.deepEqual(plan(["s1"], true, desired2), { kind: "copy", count: 1 });
  t.deepEqual(plan(["s1", "s2"], true, desired2), { kind: "none", reason: "unselected" });
  // Trimming needs a selector that picks the file.
  t.deepEqual(plan(["s1", "s2", "s3"], true, desired2), { kind: "none", reason: "unselected" });
  t.deepEqual(plan(["s1", "s2", "s3"], true, { desired: 2, above: 2 }), { kind: "unlink", count: 1 });
  t.deepEqual(plan(["s1", "s2", "s3", "s4"], true, { desired: 2, at: 4 }), { kind: "unlink", count: 2 });
  t.deepEqual(plan(["s1"], true, { desired: 3, below: 3 }), { kind: "copy", count: 2 });
  t.deepEqual(plan(["s1", "s2"], true, { desired: 2, at: 2 }), { kind: "none", reason: "at-desired" });
});

test("clonetool: nothing can be done for files without a live copy", (t) => {
  t.deepEqual(plan([], false, desired2), { kind: "none", reason: "missing" });
  t.deepEqual(plan([], true, desired2), { kind: "none", reason: "unavailable" });
  t.deepEqual(plan([], true, desired2, { clone: "s2" }), { kind: "none", reason: "unavailable" });
});

test("clonetool: manual actions apply to every file given unless a selector narrows them", (t) => {
  t.deepEqual(plan(["s1", "s2"], true, desired2, { clone: "s3" }), { kind: "clone", store: "s3" });
  t.deepEqual(plan(["s1", "s2"], true, desired2, { clone: "s2" }), { kind: "none", reason: "already-there" });
  t.deepEqual(plan(["s1", "s2", "s3"], true, desired2, { drop: "s3" }), { kind: "drop", store: "s3" });
  t.deepEqual(plan(["s1", "s2"], true, desired2, { drop: "s3" }), { kind: "none", reason: "not-there" });
  t.deepEqual(plan(["s1"], true, desired2, { verify: true }), { kind: "verify" });
  t.deepEqual(plan(["s1", "s2"], true, { desired: 2, at: 1 }, { verify: true }), {
    kind: "none",
    reason: "unselected",
  });
});

test("clonetool: selectors combine sensibly and contradictions are refused", (t) => {
  t.true(selected(3, { desired: 2, above: 1, below: 4 }));
  t.false(selected(4, { desired: 2, above: 1, below: 4 }));
  t.false(selected(1, { desired: 2, above: 1, below: 4 }));
  t.regex(selectorProblem({ desired: 2, at: 1, above: 0 }) ?? "", /--at/);
  t.regex(selectorProblem({ desired: 2, above: 2, below: 3 }) ?? "", /selects nothing/);
  t.is(selectorProblem({ desired: 2, above: 1, below: 3 }), undefined);
  t.regex(manualProblem({ clone: "a", drop: "b" }) ?? "", /pick one/);
});

test("clonetool: hashes from folder paths, in the layout or as <hash>.<ext> names", (t) => {
  t.is(hashOfPath(relativePath(H, "mp4")), H);
  t.is(hashOfPath(`incoming/${H.toUpperCase()}.mp4`), H);
  t.is(hashOfPath("incoming/readme.txt"), undefined);
  t.deepEqual(parseCopyId(`${H}:prism1:store1`), { hash: H, prism: "prism1", store: "store1" });
  t.is(parseCopyId("_design/inventory"), undefined);
  t.is(parseCopyId(`${H}::store1`), undefined);
});

test("hot: one extra copy per threshold's worth of deliveries, capped, never below the base", (t) => {
  const s = { threshold: 100, maxReplicas: 4, replicas: 2 };
  t.is(wantedCopies(99, s), 2);
  t.is(wantedCopies(100, s), 3);
  t.is(wantedCopies(250, s), 4);
  t.is(wantedCopies(10_000, s), 4);
  t.is(wantedCopies(500, { ...s, maxReplicas: 1 }), 2);
});

test("hot: cooling removes only live extra copies, down to the base count", (t) => {
  t.is(coolingDrops(["a", "b", "c"], ["c"], 2), 1);
  t.is(coolingDrops(["a", "b", "c", "d"], ["c", "d"], 2), 2);
  // A base copy was lost meanwhile: the extra now carries the base count.
  t.is(coolingDrops(["a", "c"], ["c"], 2), 0);
  // The extra copy's store is down: nothing to remove now.
  t.is(coolingDrops(["a", "b"], ["c"], 2), 0);
});

test("hot: the window is a set of buckets ending at now; load favours quiet stores", (t) => {
  t.is(bucketMs(60_000), 6000);
  t.is(bucketMs(3000), 1000);
  const b = windowBuckets(10_500, 3000);
  t.deepEqual(b, [8, 9, 10]);
  t.is(windowBuckets(60_000, 60_000).length, 10);
  const load = new Map([
    ["busy", 100],
    ["quiet", 10],
  ]);
  t.true(deliveryLoad(load, "busy") > deliveryLoad(load, "quiet"));
  t.is(deliveryLoad(load, "idle"), 0);
  t.is(deliveryLoad(new Map(), "any"), 0);
});

test("scan: a file's doc keeps creation and verification only while its bytes can be the same", (t) => {
  const f = { id: `${H}:p1:s1`, hash: H, ext: "mp4", rel: relativePath(H, "mp4"), size: 10 };
  const fresh = desiredDoc(f, "p1", "s1", 0);
  t.like(fresh, { hash: H, prism: "p1", store: "s1", size: 10, mimeType: "video/mp4", mimeExtension: "mp4" });
  t.is(fresh.verifiedAt, undefined);
  const current = { ...fresh, _id: f.id, _rev: "1-x", createdAt: "then", verifiedAt: 5 } as StoredCopy;
  t.true(docMatches(current, desiredDoc(f, "p1", "s1", 0, current)));
  t.is(desiredDoc(f, "p1", "s1", 0, current).verifiedAt, 5);
  const legacy = { ...current, mimeExtension: ".mp4" };
  t.false(docMatches(legacy, desiredDoc(f, "p1", "s1", 0, legacy)));
  t.is(desiredDoc({ ...f, size: 11 }, "p1", "s1", 0, current).verifiedAt, undefined);
  t.is(desiredDoc(f, "p1", "s1", 0, current).createdAt, "then");
});

test("verify: due when never verified, verified too long ago, or forced", (t) => {
  t.true(isDue({ verifiedAt: undefined }, 1000, 100, false));
  t.true(isDue({ verifiedAt: null }, 1000, 100, false));
  t.true(isDue({ verifiedAt: 800 }, 1000, 100, false));
  t.false(isDue({ verifiedAt: 950 }, 1000, 100, false));
  t.true(isDue({ verifiedAt: 950 }, 1000, 100, true));
});

test("scan walk: every entry of the tree, in small batches, links and errors reported", async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), "oose-walk-"));
  try {
    for (let i = 0; i < 25; i++) {
      const file = path.join(root, "ab", String(i).padStart(2, "0"), `f${i}.bin`);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, Buffer.alloc(i));
    }
    symlinkSync(path.join(root, "ab"), path.join(root, "link"));
    const found = new Map<string, number>();
    const kinds = new Set<string>();
    const result = { dirs: 0 };
    let batches = 0;
    for await (const batch of walkTree(root, { batchSize: 4, credit: 1 }, result)) {
      batches++;
      t.true(batch.length <= 4);
      for (const e of batch) {
        kinds.add(e.kind);
        if (e.kind === "file") found.set(e.rel, e.size);
      }
    }
    t.is(found.size, 25);
    t.is(found.get("ab/07/f7.bin"), 7);
    t.deepEqual([...kinds].sort(), ["file", "link"]);
    t.is(result.dirs, 27);
    t.true(batches >= 7);
    // Several walkers share the root's entries out: the same entries and folders, each once.
    for (const threads of [2, 3]) {
      const shared = { dirs: 0 };
      const rels: string[] = [];
      for await (const batch of walkTree(root, { batchSize: 4, credit: 1, threads }, shared))
        rels.push(...batch.map((e) => e.rel));
      t.deepEqual(rels.sort(), [...found.keys(), "link"].sort());
      t.is(shared.dirs, 27);
    }
    // A missing root is an error entry, not a crash; reported once, however many walkers.
    for (const threads of [1, 2]) {
      const missing = [];
      for await (const batch of walkTree(path.join(root, "nope"), { batchSize: 10, threads })) missing.push(...batch);
      t.is(missing.length, 1);
      t.like(missing[0], { kind: "error", error: "ENOENT" });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("scan: the seen-hash filter never forgets a hash and rarely claims one it never saw", (t) => {
  const seen = new SeenHashes(1000, 0.001);
  const added = Array.from({ length: 5000 }, () => randomBytes(20).toString("hex"));
  for (const h of added) seen.add(h);
  t.true(
    added.every((h) => seen.has(h)),
    "no false negatives, across stages",
  );
  let wrong = 0;
  for (let i = 0; i < 20_000; i++) if (seen.has(randomBytes(20).toString("hex"))) wrong++;
  t.true(wrong / 20_000 < 0.005, `false positive rate ${wrong / 20_000}`);
  t.true(seen.bytes < 20_000, `${seen.bytes} bytes for 5000 hashes`);
});

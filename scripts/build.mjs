#!/usr/bin/env node
// Compiles app/ and migrations/ to dist/ with tsc, the code every node runs:
// the image, the local cluster and the test clusters. It rebuilds only when a
// source is newer than the last build (tsc's own incremental check costs
// seconds), one build at a time per checkout, since parallel test files may
// ask at once. Also copies the plain JS modules tsc does not emit, and records
// each migration's source checksum, so the compiled runner names a migration
// by the same checksum as one run from source.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DIST = path.join(ROOT, "dist");
const SOURCES = ["app", "migrations"];
const CONFIGS = ["tsconfig.json", "tsconfig.build.json", "package-lock.json"];
const STAMP = path.join(DIST, ".built");
const LOCK = path.join(ROOT, ".dist-build.lock");
/** A lock older than a build can take belongs to a build that died. */
const LOCK_STALE_MS = 5 * 60_000;
const MIGRATION = /^\d{4}-[a-z0-9][a-z0-9.-]*\.ts$/;

/** Every file and folder under `dir` (a folder's mtime moves when an entry is deleted). */
function* files(dir) {
  yield dir;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(full);
    else yield full;
  }
}

function newestSource() {
  let newest = 0;
  for (const f of CONFIGS.map((c) => path.join(ROOT, c)))
    if (existsSync(f)) newest = Math.max(newest, statSync(f).mtimeMs);
  for (const dir of SOURCES)
    for (const f of files(path.join(ROOT, dir))) newest = Math.max(newest, statSync(f).mtimeMs);
  return newest;
}

export const isFresh = () => existsSync(STAMP) && statSync(STAMP).mtimeMs >= newestSource();

/** tsc's exit code when it found type errors and emitted anyway. */
const EMITTED_WITH_ERRORS = 2;

/** `strict`: type errors fail the build (the image); otherwise the output is used, as tsx would run the sources. */
function compile(strict) {
  const started = Date.now();
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const res = spawnSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.build.json")], {
    cwd: ROOT,
    stdio: "inherit",
  });
  const emitted = res.status === 0 || (!strict && res.status === EMITTED_WITH_ERRORS);
  if (!emitted) throw new Error(`tsc failed (${res.error?.message ?? `exit ${res.status}`})`);
  if (res.status !== 0) console.error("dist/ built despite type errors (npm run typecheck lists them)");
  for (const dir of SOURCES) {
    for (const f of files(path.join(ROOT, dir))) {
      if (f.endsWith(".mjs") && statSync(f).isFile()) cpSync(f, path.join(DIST, path.relative(ROOT, f)));
    }
  }
  const sums = {};
  for (const f of readdirSync(path.join(ROOT, "migrations")).filter((n) => MIGRATION.test(n))) {
    sums[f.replace(/\.ts$/, "")] = createHash("sha256")
      .update(readFileSync(path.join(ROOT, "migrations", f)))
      .digest("hex");
  }
  writeFileSync(path.join(DIST, "migrations", "checksums.json"), `${JSON.stringify(sums, null, 2)}\n`);
  writeFileSync(STAMP, new Date().toISOString());
  console.error(`dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function takeLock() {
  for (;;) {
    try {
      mkdirSync(LOCK);
      return;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs > LOCK_STALE_MS) {
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

/** Builds dist/ unless it is newer than every source; safe to call from parallel processes. */
export function ensureBuilt({ strict = false } = {}) {
  if (isFresh()) return;
  takeLock();
  try {
    // Another process may have built it while this one waited.
    if (!isFresh()) compile(strict);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes("--force")) rmSync(STAMP, { force: true });
    ensureBuilt({ strict: process.argv.includes("--strict") });
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}

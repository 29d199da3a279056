#!/usr/bin/env node
// Builds what runs from this checkout: dist/ (app/ and migrations/ by tsc,
// the code every node runs: the image, the local cluster and the test
// clusters) and the client package (packages/client/dist, by its tsdown
// config). Each is rebuilt only when one of its sources is newer than its last
// build (tsc's own incremental check costs seconds), one build at a time per
// checkout, since parallel test files may ask at once. dist/ also gets the
// plain JS modules tsc does not emit, and each migration's source checksum, so
// the compiled runner names a migration by the same checksum as one run from
// source.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DIST = path.join(ROOT, "dist");
const CLIENT = path.join(ROOT, "packages", "client");
const LOCK = path.join(ROOT, ".dist-build.lock");
/** A lock older than a build can take belongs to a build that died. */
const LOCK_STALE_MS = 5 * 60_000;
const MIGRATION = /^\d{4}-[a-z0-9][a-z0-9.-]*\.ts$/;
/** tsc's exit code when it found type errors and emitted anyway. */
const EMITTED_WITH_ERRORS = 2;

/** Every file and folder under `p` (a folder's mtime moves when an entry is deleted). */
function* entries(p) {
  yield p;
  if (!statSync(p).isDirectory()) return;
  for (const e of readdirSync(p)) yield* entries(path.join(p, e));
}

const newest = (sources) =>
  Math.max(0, ...sources.filter((s) => existsSync(s)).flatMap((s) => [...entries(s)].map((f) => statSync(f).mtimeMs)));

const fresh = (t) => existsSync(t.stamp) && statSync(t.stamp).mtimeMs >= newest(t.sources);

function run(cmd, args, cwd) {
  const res = spawnSync(cmd, args, { cwd, stdio: "inherit" });
  if (res.error) throw new Error(`${cmd}: ${res.error.message}`);
  return res.status;
}

const at = (...p) => p.map((f) => path.join(ROOT, f));

const APP = {
  name: "dist/",
  sources: at("app", "migrations", "tsconfig.json", "tsconfig.build.json", "package-lock.json"),
  stamp: path.join(DIST, ".built"),
  /** `strict`: type errors fail the build (the image); otherwise the output is used, as tsx would run the sources. */
  build(strict) {
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const status = run(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.build.json")], ROOT);
    if (status !== 0 && (strict || status !== EMITTED_WITH_ERRORS)) throw new Error(`tsc failed (exit ${status})`);
    if (status !== 0) console.error("dist/ built despite type errors (npm run typecheck lists them)");
    for (const dir of ["app", "migrations"]) {
      for (const f of entries(path.join(ROOT, dir))) {
        if (f.endsWith(".mjs") && statSync(f).isFile()) cpSync(f, path.join(DIST, path.relative(ROOT, f)));
      }
    }
    const sums = {};
    for (const f of readdirSync(path.join(ROOT, "migrations")).filter((n) => MIGRATION.test(n))) {
      const source = readFileSync(path.join(ROOT, "migrations", f));
      sums[f.replace(/\.ts$/, "")] = createHash("sha256").update(source).digest("hex");
    }
    writeFileSync(path.join(DIST, "migrations", "checksums.json"), `${JSON.stringify(sums, null, 2)}\n`);
  },
};

const CLIENT_PACKAGE = {
  name: "packages/client/dist/",
  // Its types come from the wire contracts.
  sources: [
    ...at("app/contracts", "package-lock.json"),
    ...["src", "package.json", "tsdown.config.ts"].map((f) => path.join(CLIENT, f)),
  ],
  stamp: path.join(CLIENT, "dist", ".built"),
  build() {
    const status = run("npm", ["run", "build", "--silent"], CLIENT);
    if (status !== 0) throw new Error(`the client build failed (exit ${status})`);
  },
};

function takeLock() {
  for (;;) {
    try {
      mkdirSync(LOCK);
      return;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      if (Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? 0) > LOCK_STALE_MS) {
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

function ensure(target, strict = false) {
  if (fresh(target)) return;
  takeLock();
  try {
    // Another process may have built it while this one waited.
    if (fresh(target)) return;
    const started = Date.now();
    target.build(strict);
    writeFileSync(target.stamp, new Date().toISOString());
    console.error(`${target.name} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export const isFresh = () => fresh(APP);

/** Builds dist/ unless it is newer than every source; safe to call from parallel processes. */
export function ensureBuilt({ strict = false } = {}) {
  ensure(APP, strict);
}

/** Builds packages/client/dist unless it is newer than every source; safe to call from parallel processes. */
export function ensureClientBuilt() {
  ensure(CLIENT_PACKAGE);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes("--force")) rmSync(APP.stamp, { force: true });
    ensureBuilt({ strict: process.argv.includes("--strict") });
    if (process.argv.includes("--client")) ensureClientBuilt();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}

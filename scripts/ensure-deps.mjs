#!/usr/bin/env node
// Runs before `npm start` and `npm test`: installs npm packages when
// node_modules is missing or older than package-lock.json, and makes sure the
// system programs the local cluster runs (redis-server, redis-sentinel, nginx)
// are there, installing them with apt when running as root. `--metrics` (and
// `npm test`) adds Prometheus, and `npm test` chromium for the console's
// browser test; `npm start -- --metrics` runs this script with it itself,
// since npm hands prestart no arguments. `--bench` adds wrk.
// Then it compiles dist/ if a source changed: the nodes run the compiled app
// (and, for `npm test`, the client package).
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, statSync, utimesSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Benchmarks also drive load with wrk. --metrics runs Debian's prometheus, and `npm test` its promtool.
const BENCH = process.argv.includes("--bench");
const TEST = process.env.npm_lifecycle_event === "pretest";
const METRICS = process.argv.includes("--metrics") || TEST;
const EXTRA = [...(BENCH ? ["wrk"] : []), ...(METRICS ? ["prometheus"] : []), ...(TEST ? ["chromium"] : [])];
const PROGRAMS = ["redis-server", "redis-sentinel", "nginx", ...EXTRA];
const APT_PACKAGES = ["redis-server", "redis-sentinel", "nginx", ...EXTRA];
// Debian keeps nginx in /usr/sbin, which a normal user's PATH often lacks; the cluster looks there too.
const SEARCH = [...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean), "/usr/sbin", "/sbin"];

function run(cmd, args, env = process.env) {
  console.log(`> ${cmd} ${args.join(" ")}`);
  const res = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env });
  if (res.status !== 0) {
    console.error(`${cmd} ${args.join(" ")} failed (${res.error?.message ?? `exit ${res.status}`})`);
    process.exit(1);
  }
}

function onPath(program) {
  return SEARCH.some((dir) => {
    try {
      accessSync(path.join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function ensureNodeModules() {
  const lock = path.join(root, "package-lock.json");
  // npm rewrites this file on every install, so its mtime says when node_modules was last synced.
  const marker = path.join(root, "node_modules", ".package-lock.json");
  const stale = !existsSync(marker) || (existsSync(lock) && statSync(marker).mtimeMs < statSync(lock).mtimeMs);
  if (!stale) return;
  run("npm", ["install", "--no-audit", "--no-fund"]);
  const now = new Date();
  if (existsSync(marker)) utimesSync(marker, now, now);
}

function ensurePrograms() {
  const missing = PROGRAMS.filter((p) => !onPath(p));
  if (missing.length === 0) return;
  const install = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${APT_PACKAGES.join(" ")}`;
  if (process.getuid?.() !== 0) {
    console.error(`Missing: ${missing.join(", ")}. Install them as root, then retry:\n\n  sudo sh -c '${install}'\n`);
    process.exit(1);
  }
  console.log(`Missing ${missing.join(", ")}; installing with apt.`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run("apt-get", ["update"], env);
  run("apt-get", ["install", "-y", ...APT_PACKAGES], env);
  const still = PROGRAMS.filter((p) => !onPath(p));
  if (still.length > 0) {
    console.error(`Still missing after apt-get install: ${still.join(", ")}`);
    process.exit(1);
  }
}

ensureNodeModules();
ensurePrograms();
const build = await import("./build.mjs");
build.ensureBuilt();
// Tests use the built client package too (its own tests, and the README's quickstart).
if (process.env.npm_lifecycle_event === "pretest") build.ensureClientBuilt();

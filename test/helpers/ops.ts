import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import nano from "nano";
import { StoreClient } from "../../app/client/store.js";
import { fromRelativePath } from "../../app/core/layout.js";
import type { LocalCluster } from "../../infra/local/cluster.js";
import { sha1 } from "./fault.js";
import { storeRoot } from "./prism.js";

// For the operator-tool tests: the `oose` command run as an operator would
// (a node's environment, from another directory), content put straight onto
// chosen stores, and what each store's disk really holds.

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `oose <args>` with the OOSE_* environment of `node` (a store's for inventory tools, a prism's otherwise). */
export function oose(
  cluster: LocalCluster,
  node: string,
  args: string[],
  extra: Record<string, string> = {},
): Promise<Run> {
  return ooseWith(args, { ...cluster.env[node], OOSE_LOG_LEVEL: "warn", ...extra });
}

/** `oose <args>` from another directory (`cwd`), with none of this process's OOSE_* variables but `env`. */
export function ooseWith(args: string[], env: Record<string, string> = {}, cwd = os.tmpdir()): Promise<Run> {
  return ooseStart(args, env, cwd).done;
}

export interface Running {
  pid: number;
  done: Promise<Run>;
  kill(signal?: NodeJS.Signals): void;
}

/** ooseWith, for a test that kills the run by pid or names its pid. */
export function ooseStart(args: string[], env: Record<string, string> = {}, cwd = os.tmpdir()): Running {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OOSE_")));
  const child = spawn(process.execPath, [path.join(ROOT, "bin/oose.js"), ...args], {
    cwd,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<Run>((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
  return { pid: child.pid!, done, kill: (signal = "SIGKILL") => process.kill(child.pid!, signal) };
}

/** The JSON report of a `--json` run (its last stdout line). */
// biome-ignore lint/suspicious/noExplicitAny: reports are checked field by field in the tests
export function json(r: Run): any {
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

export { sha1 };

export function storeClient(cluster: LocalCluster, store: string): StoreClient {
  const s = cluster.info.stores.find((x) => x.name === store)!;
  return new StoreClient({ baseUrl: s.url, auth: cluster.info.storeAuth, name: store, timeoutMs: 30_000 });
}

/** Puts `data` straight onto the given stores (no prism, no placement): exactly those copies exist. */
export async function putOn(cluster: LocalCluster, stores: string[], data: Buffer, ext = "bin"): Promise<string> {
  const hash = sha1(data);
  for (const s of stores) await storeClient(cluster, s).put(`${hash}.${ext}`, data);
  return hash;
}

/** Every content file (a layout path) on a store's disk: hash → size. */
export function filesOn(cluster: LocalCluster, store: string): Map<string, number> {
  const content = path.join(storeRoot(cluster, store), "content");
  const out = new Map<string, number>();
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const id = fromRelativePath(path.relative(content, p));
        if (id) out.set(id.hash, statSync(p).size);
      }
    }
  };
  walk(content);
  return out;
}

export const couchDb = (cluster: LocalCluster) =>
  nano(cluster.info.couchdb).use<Record<string, unknown> & { _rev?: string }>("oose-inventory");

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { ensureClientBuilt } from "../../scripts/build.mjs";
import { useCluster } from "../helpers/cluster.js";

// The README's quickstart, run as written against a local cluster: the curl
// block in bash, the client block in node, both from the checkout, with
// OOSE_CLUSTER naming the test cluster's cluster.json instead of .oose's.

const ROOT = path.resolve(import.meta.dirname, "../..");
const cluster = useCluster(test, {});

/** The fenced blocks of `lang` in the README's quickstart section. */
function quickstart(lang: string): string[] {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith("Quickstart"));
  if (!section) throw new Error("README.md has no Quickstart section");
  return [...section.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\``, "gm"))].map((m) => m[1]!);
}

/** A command's exit code and output; killed after a minute. */
const run = (cmd: string, args: string[], env: Record<string, string>, cwd: string) =>
  execa(cmd, args, { cwd, env: { ...process.env, ...env }, reject: false, timeout: 60_000 });

/** cluster.json as `npm start` writes it, for this cluster. */
function clusterFile(t: { teardown(fn: () => void): void }): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-quickstart-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "cluster.json");
  writeFileSync(file, JSON.stringify(cluster().info), { mode: 0o600 });
  return { dir, file };
}

test("the curl quickstart logs in, uploads, sees 2 copies, buys a purchase and fetches the file", async (t) => {
  const [script] = quickstart("bash");
  t.truthy(script, "a bash block");
  const { dir, file } = clusterFile(t);
  // Its own folder for hello.txt, with the commands otherwise as written (`bash -e`: any failure stops it).
  const res = await run("bash", ["-euo", "pipefail", "-c", script!], { OOSE_CLUSTER: file }, dir);
  t.is(res.exitCode, 0, res.stderr);
  const lines = res.stdout.trim().split("\n");
  const detail = JSON.parse(lines.find((l) => l.startsWith("{"))!);
  // Two at least: a placement that fell over to another store under load may leave more, which repair trims.
  t.true(detail.count >= 2, `live copies: ${detail.count}`);
  t.is(detail.map.length, detail.count);
  t.is(lines.at(-1), "Hello from OOSE", "the bytes, through the 302");
});

test("the client quickstart does the same through @oose/client", async (t) => {
  const [script] = quickstart("js");
  t.truthy(script, "a js block");
  ensureClientBuilt();
  const { file } = clusterFile(t);
  // From the checkout, as the README says; an inline module resolves its imports from the working directory.
  const res = await run(process.execPath, ["--input-type=module", "-e", script!], { OOSE_CLUSTER: file }, ROOT);
  t.is(res.exitCode, 0, res.stderr);
  const progress = [...res.stdout.matchAll(/uploaded (\d+) of (\d+) bytes/g)].at(-1);
  t.truthy(progress, "upload progress was reported");
  t.is(progress![1], progress![2], "progress reached the whole request body");
  t.regex(res.stdout, /copies: \[.*:.*, .*:.*\]/);
  t.regex(res.stdout, /store: http/);
  t.is(res.stdout.trim().split("\n").at(-1), "Hello from OOSE");
});

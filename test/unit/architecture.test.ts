import { createRequire } from "node:module";
import path from "node:path";
import test from "ava";
import { execa } from "execa";

// The codebase keeps its shape (docs/architecture.md): the import rules of
// .dependency-cruiser.cjs hold over the whole tree, and each rule is shown to
// bite on a miniature tree that breaks every one of them once.

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const CONFIG = path.join(ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = path.join(ROOT, "node_modules/.bin/depcruise");
const rules: { name: string }[] = createRequire(import.meta.url)(CONFIG).forbidden;

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

async function violations(cwd: string, dirs: string[]): Promise<Violation[]> {
  const run = await execa(DEPCRUISE, [...dirs, "--config", CONFIG, "--output-type", "json"], { cwd, reject: false });
  if (run.exitCode !== 0 && !run.stdout.startsWith("{")) throw new Error(`depcruise failed: ${run.stderr}`);
  return JSON.parse(run.stdout).summary.violations;
}

test("the tree keeps every import rule", async (t) => {
  const found = await violations(ROOT, ["app", "infra", "migrations", "nginx", "bench", "packages"]);
  t.deepEqual(
    found.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`),
    [],
  );
});

test("every rule bites on a tree that breaks it", async (t) => {
  const found = await violations(path.join(ROOT, "test/fixtures/layering"), ["app", "packages"]);
  const broken = new Set(found.map((v) => v.rule.name));
  t.deepEqual(
    rules.map((r) => r.name).filter((name) => !broken.has(name)),
    [],
    "rules the fixture breaks but the check let through",
  );
  t.false(
    found.some((v) => v.from === "app/core/ports-like.ts"),
    "a type-only import of the config from core is allowed",
  );
  t.false(
    found.some((v) => v.from === "packages/client/src/typed.ts"),
    "a type-only import of a contract from the client package is allowed",
  );
});

import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { builtinModules } from "node:module";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { DIST, ensureBuilt, ROOT } from "../../scripts/build.mjs";

// The image's build, checked without a container engine: what the Dockerfile
// copies, what .dockerignore lets through and what dist/ needs at run time agree,
// and the compiled app runs on plain node with the production dependencies alone.

const read = (f: string) => readFileSync(path.join(ROOT, f), "utf8");
const pkg = JSON.parse(read("package.json")) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Each stage's name and its COPY lines as [sources, destination, --from]. */
function stages(): Map<string, Array<{ from?: string; sources: string[] }>> {
  const out = new Map<string, Array<{ from?: string; sources: string[] }>>();
  let current: Array<{ from?: string; sources: string[] }> = [];
  for (const line of read("Dockerfile").split("\n")) {
    const stage = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (stage) {
      current = [];
      out.set(stage[1]!, current);
    }
    const copy = /^COPY\s+(.*)$/.exec(line);
    if (!copy) continue;
    const words = copy[1]!.split(/\s+/);
    const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
    const paths = words.filter((w) => !w.startsWith("--"));
    current.push({ from, sources: paths.slice(0, -1) });
  }
  return out;
}

const allowed = read(".dockerignore")
  .split("\n")
  .filter((l) => l.startsWith("!"))
  .map((l) => l.slice(1).trim());
const admitted = (p: string) => allowed.some((a) => p === a || p.startsWith(`${a}/`));

function* jsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) yield* jsFiles(full);
    else if (/\.m?js$/.test(e.name)) yield full;
  }
}

/** Static imports and re-exports (tsc puts them at the start of a line), and dynamic imports of a literal. */
const IMPORT =
  /^(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']|^import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`). */
const packageOf = (spec: string) =>
  spec
    .split("/")
    .slice(0, spec.startsWith("@") ? 2 : 1)
    .join("/");

test.before(() => ensureBuilt());

test("every file the build stage copies from the context passes .dockerignore", (t) => {
  const build = stages().get("build");
  t.truthy(build, "a build stage");
  const copied = build!.filter((c) => !c.from).flatMap((c) => c.sources);
  for (const src of copied) t.true(admitted(src), `${src} is kept out of the build context by .dockerignore`);
  // What tsc compiles, and what runs it.
  const tsconfig = JSON.parse(read("tsconfig.build.json")) as { include: string[]; extends: string };
  for (const need of [
    ...tsconfig.include,
    "tsconfig.build.json",
    tsconfig.extends.replace(/^\.\//, ""),
    "scripts/build.mjs",
  ])
    t.true(copied.includes(need), `the build stage copies ${need}`);
});

test("the runtime stage runs dist/ on plain node, from the build stage, with bin and the package file", (t) => {
  const runtime = stages().get("runtime")!;
  t.true(
    runtime.some((c) => c.from === "build" && c.sources.includes("/app/dist")),
    "dist/ comes from the build stage",
  );
  for (const need of ["bin", "package.json"])
    t.true(
      runtime.some((c) => !c.from && c.sources.includes(need)),
      need,
    );
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(read("Dockerfile").split(/^FROM .* AS runtime$/m)[1]!);
  t.deepEqual(JSON.parse(cmd![1]!), ["node", "dist/app/main.js"]);
  t.false(/tsx/.test(read("Dockerfile").split(/^FROM .* AS runtime$/m)[1]!), "no TypeScript loader at run time");
});

test("dist/ imports only node built-ins and the production dependencies", (t) => {
  const builtins = new Set(builtinModules);
  const bad = new Map<string, string>();
  for (const file of jsFiles(DIST)) {
    for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2] ?? m[3])!;
      if (spec.startsWith(".")) continue;
      if (spec.startsWith("node:") || builtins.has(spec)) continue;
      if (!(packageOf(spec) in pkg.dependencies)) bad.set(spec, path.relative(ROOT, file));
    }
  }
  t.deepEqual([...bad], [], "every bare import is a production dependency");
  for (const dev of ["tsx", "typescript", "node-forge"])
    t.false(dev in pkg.dependencies, `${dev} is not a runtime dependency`);
});

test("the image's layout (package.json, bin, dist) runs `oose --version` on plain node", (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-image-layout-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
  cpSync(path.join(ROOT, "bin"), path.join(dir, "bin"), { recursive: true });
  cpSync(DIST, path.join(dir, "dist"), { recursive: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  const res = spawnSync(process.execPath, [path.join(dir, "bin/oose.js"), "--version"], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  t.is(res.status, 0, res.stderr);
  t.is(res.stdout.trim(), pkg.version);
});

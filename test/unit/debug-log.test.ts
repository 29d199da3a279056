import { spawn } from "node:child_process";
import path from "node:path";
import test from "ava";
import { ensureBuilt } from "../../scripts/build.mjs";

// DEBUG=oose:* turns on debug logs as it did for OOSE users, and narrower
// patterns only for the matching parts. Each case runs in its own process,
// as a node does (the compiled code it runs): a prism and a store app built as
// main.ts builds them, each answering a request that logs at debug level (a
// 400), plus job loggers.

const root = path.resolve(import.meta.dirname, "../..");

const SCRIPT = `
const { logger } = await import("./dist/app/log.js");
const { createNodeApp } = await import("./dist/app/http/node.js");
const { ConfigSchema } = await import("./dist/app/config.js");
const { Value } = await import("@sinclair/typebox/value");
const limits = Value.Default(ConfigSchema.properties.limits, {});
const redis = { pipeline: () => ({ hincrby() {}, exec: async () => [] }), hgetall: async () => ({}) };
const couch = { server: { request: async () => ({}) } };
for (const [role, name] of [["prism", "prism1"], ["store", "store1"]]) {
  const log = logger(role, name);
  const config = { role, name, redis: { prefix: "oose" }, limits };
  const app = createNodeApp({ config, couch, redis, log });
  await app.inject({ method: "POST", url: "/ping", headers: { "content-type": "application/json" }, payload: "{bad" });
  await app.close();
  log.child({ job: "heartbeat" }).debug("heartbeat round " + role);
  log.info("ready " + role);
}
`;

interface Line {
  level: number;
  scope: string;
  msg: string;
}

test.before(() => ensureBuilt());

function run(env: Record<string, string | undefined>): Promise<Line[]> {
  return new Promise((resolve, reject) => {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== "DEBUG" && k !== "OOSE_LOG_LEVEL"),
    );
    const child = spawn(process.execPath, ["--input-type=module", "-e", SCRIPT], {
      cwd: root,
      env: { ...base, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`exit ${code}: ${err}`));
      resolve(
        out
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Line),
      );
    });
  });
}

const DEBUG = 20;
const debugScopes = (lines: Line[]) => [...new Set(lines.filter((l) => l.level === DEBUG).map((l) => l.scope))].sort();

test("DEBUG=oose:prism:* shows prism debug lines and no store ones", async (t) => {
  const lines = await run({ DEBUG: "oose:prism:*" });
  t.deepEqual(debugScopes(lines), ["prism:prism1"]);
  t.true(lines.some((l) => l.level === DEBUG && /heartbeat round prism/.test(l.msg)));
  t.true(
    lines.some((l) => l.level === DEBUG && /JSON/.test(l.msg)),
    "the app's own debug lines",
  );
  t.true(
    lines.some((l) => l.msg === "ready store"),
    "store info lines still show",
  );
});

test("DEBUG=oose:* shows both; a single node's pattern shows only it; none without DEBUG", async (t) => {
  const [all, store, none] = await Promise.all([
    run({ DEBUG: "oose:*" }),
    run({ DEBUG: "oose:store:store1" }),
    run({}),
  ]);
  t.deepEqual(debugScopes(all), ["prism:prism1", "store:store1"]);
  t.deepEqual(debugScopes(store), ["store:store1"]);
  t.deepEqual(debugScopes(none), []);
  t.true(none.some((l) => l.msg === "ready prism"));
});

test("exclusions work as in the debug package: DEBUG=oose:*,-oose:store:*", async (t) => {
  t.deepEqual(debugScopes(await run({ DEBUG: "oose:*,-oose:store:*" })), ["prism:prism1"]);
});

import { spawn } from "node:child_process";
import path from "node:path";
import test from "ava";
import { ConfigError, loadConfig } from "../../app/config.js";
import { tsxArgs } from "../../infra/local/services.js";

// A store's temp dir, staging and per-hash lock are per process, so a store
// with workers > 1 is refused as a config error; a prism may have several.

const root = path.resolve(import.meta.dirname, "../..");

const storeEnv = {
  OOSE_ROLE: "store",
  OOSE_NAME: "store1",
  OOSE_PRISM: "prism1",
  OOSE_ADVERTISE_URL: "http://127.0.0.1:5972",
  OOSE_DATA_ROOT: "/srv/oose/store1",
  OOSE_COUCHDB__URL: "http://127.0.0.1:5984",
  OOSE_REDIS__URL: "redis://127.0.0.1:6379",
  OOSE_AUTH__PRISM__USERNAME: "prism",
  OOSE_AUTH__PRISM__PASSWORD: "prism-secret",
  OOSE_AUTH__STORE__USERNAME: "store",
  OOSE_AUTH__STORE__PASSWORD: "store-secret",
  OOSE_SIGNING_KEY: "0123456789abcdef0123",
};

test("a store with workers > 1 is a config error naming workers", (t) => {
  const err = t.throws(() => loadConfig({ ...storeEnv, OOSE_WORKERS: "2" }), { instanceOf: ConfigError });
  t.regex(err!.problems.join("\n"), /^workers: a store runs as one process/m);
  t.is(loadConfig({ ...storeEnv, OOSE_WORKERS: "1" }).workers, 1);
});

test("a prism may still run several workers", (t) => {
  const config = loadConfig({ ...storeEnv, OOSE_ROLE: "prism", OOSE_NAME: "prism1", OOSE_WORKERS: "4" });
  t.is(config.workers, 4);
});

test("main.ts refuses a multi-worker store with exit code 2", async (t) => {
  const child = spawn(process.execPath, tsxArgs(path.join(root, "app/main.ts")), {
    cwd: root,
    env: { PATH: process.env.PATH, ...storeEnv, OOSE_WORKERS: "3" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  t.is(code, 2, stderr);
  t.regex(stderr, /- workers: a store runs as one process/);
});

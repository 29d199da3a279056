import { spawn } from "node:child_process";
import path from "node:path";
import test from "ava";
import { ConfigError, configEnv, loadConfig, parseConfig } from "../../app/config.js";
import { envName, envToObject } from "../../app/config-env.js";
import { tsxArgs } from "../../infra/local/services.js";

const root = path.resolve(import.meta.dirname, "../..");

const goodEnv = {
  OOSE_ROLE: "store",
  OOSE_NAME: "store1",
  OOSE_PRISM: "prism1",
  OOSE_ADVERTISE_URL: "http://127.0.0.1:5972",
  OOSE_DATA_ROOT: "/srv/oose/store1",
  OOSE_COUCHDB__URL: "http://127.0.0.1:5984",
  OOSE_REDIS__SENTINELS: '[{"host":"127.0.0.1","port":26379}]',
  OOSE_AUTH__PRISM__USERNAME: "prism",
  OOSE_AUTH__PRISM__PASSWORD: "prism-secret",
  OOSE_AUTH__STORE__USERNAME: "store",
  OOSE_AUTH__STORE__PASSWORD: "store-secret",
  OOSE_SIGNING_KEY: "0123456789abcdef0123",
};

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
};

test("a bad config lists every bad key at once", (t) => {
  const problems = problemsOf(() =>
    parseConfig({
      role: "master",
      name: "Not A Label",
      advertiseUrl: "ftp://x",
      couchdb: { url: "couch" },
      redis: { sentinels: [] },
      auth: { prism: { username: "" } },
      signingKey: "short",
      heartbeat: { frequency: -1 },
    }),
  );
  const keys = problems.map((p) => p.split(":")[0]);
  for (const key of [
    "role",
    "name",
    "advertiseUrl",
    "dataRoot",
    "couchdb.url",
    "redis.sentinels",
    "auth.prism.username",
    "auth.prism.password",
    "auth.store",
    "signingKey",
    "heartbeat.frequency",
  ]) {
    t.true(keys.includes(key), `${key} in ${JSON.stringify(keys)}`);
  }
  t.is(new Set(keys).size, keys.length, "each key is reported once");
});

test("OOSE_* env becomes nested keys; other variables are ignored", (t) => {
  t.deepEqual(
    envToObject({
      OOSE_COUCHDB__URL: "http://c:5984",
      OOSE_HEARTBEAT__START_DELAY: "100",
      OOSE_REDIS__SENTINELS: '[{"host":"a","port":1}]',
      OOSE_CONFIG: "/etc/oose.json",
      PATH: "/usr/bin",
    }),
    {
      couchdb: { url: "http://c:5984" },
      heartbeat: { startDelay: "100" },
      redis: { sentinels: [{ host: "a", port: 1 }] },
    },
  );
  const config = loadConfig({ ...goodEnv, OOSE_HEARTBEAT__START_DELAY: "100", OOSE_LISTEN__PORT: "6000" });
  t.is(config.heartbeat.startDelay, 100);
  t.is(config.listen.port, 6000);
  t.deepEqual(config.redis.sentinels, [{ host: "127.0.0.1", port: 26379 }]);
  t.is(config.prism, "prism1");
});

test("configEnv writes what envToObject reads, named by the schema, and refuses a key it lacks", (t) => {
  const env = configEnv({
    advertiseUrl: "http://n:1",
    heartbeat: { startDelay: 100, enabled: false },
    redis: { sentinels: [{ host: "a", port: 1 }], password: undefined },
    denyStaticTypes: ["mp4"],
  });
  t.deepEqual(env, {
    OOSE_ADVERTISE_URL: "http://n:1",
    OOSE_HEARTBEAT__START_DELAY: "100",
    OOSE_HEARTBEAT__ENABLED: "false",
    OOSE_REDIS__SENTINELS: '[{"host":"a","port":1}]',
    OOSE_DENY_STATIC_TYPES: '["mp4"]',
  });
  t.is(envName(["accessLog", "retentionDays"]), "OOSE_ACCESS_LOG__RETENTION_DAYS");
  t.throws(() => configEnv({ heartbeat: { startDealy: 1 } } as never), { message: /heartbeat\.startDealy/ });
});

test("numeric-looking passwords stay strings", (t) => {
  const config = loadConfig({
    ...goodEnv,
    OOSE_AUTH__PRISM__PASSWORD: "12345678",
    OOSE_AUTH__STORE__PASSWORD: "1e3",
    OOSE_COUCHDB__PASSWORD: "007",
    OOSE_SIGNING_KEY: "1234567890123456789",
  });
  t.is(config.auth.prism.password, "12345678");
  t.is(config.auth.store.password, "1e3");
  t.is(config.couchdb.password, "007");
  t.is(config.signingKey, "1234567890123456789");
});

test("main.ts with a bad env exits 2 and names every bad key", async (t) => {
  const child = spawn(process.execPath, tsxArgs(path.join(root, "app/main.ts")), {
    cwd: root,
    env: { PATH: process.env.PATH, OOSE_ROLE: "master", OOSE_NAME: "BAD NAME", OOSE_SIGNING_KEY: "short" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  t.is(code, 2, stderr);
  for (const key of ["role", "name", "advertiseUrl", "dataRoot", "couchdb", "auth", "signingKey"]) {
    t.regex(stderr, new RegExp(`- ${key}[.:]`), key);
  }
});

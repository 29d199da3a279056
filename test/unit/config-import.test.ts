import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { loadOoseConfigFile, toEnvLines } from "../../app/cli/config.js";
import { ImportError, importOoseConfig } from "../../app/cli/config-import.js";
import { loadConfig, parseConfig } from "../../app/config.js";
import { envToObject } from "../../app/config-env.js";

// `oose config import`: an OOSE 2.2 config.local.js (the shape of spec §2, as
// operators wrote it: CommonJS, require, __dirname) becomes ours.

const root = path.resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(path.join(os.tmpdir(), "oose-import-"));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

// A 2.2-final prism + store host config, every section of spec §2 present.
const CONFIG_LOCAL_JS = `'use strict';
var path = require('path');
var pem = path.resolve(__dirname + '/ssl/oose.pem');

module.exports = {
  domain: 'cdn.example.net',
  group: 'group1',
  host: 'host1',
  root: '/data/disk1',
  defaultHashType: 'sha1',
  ssl: { pem: pem },
  api: { maxSockets: 64, sessionTokenName: 'X-OOSE-Token' },
  heartbeat: {
    systemKey: null,
    systemType: null,
    retries: 8,
    concurrency: 8,
    startDelay: 60000,
    frequency: 5000,
    votePruneFrequency: 60000,
    voteLife: 60000,
    pingResponseTimeout: 2000
  },
  redis: { host: '127.0.0.1', port: 6379, db: 0, prefix: 'oose', options: {} },
  couchdb: {
    host: 'couch.internal',
    port: 5984,
    prefix: '',
    database: 'oose',
    options: {
      secure: false,
      cache: false,
      retries: 3,
      retryTimeout: 10000,
      auth: { username: 'oose', password: 'couch-secret' }
    }
  },
  purchase: {
    life: 7200000,
    afterlife: 7200000,
    redis: { host: 'redis.internal', port: 6380, db: 1, prefix: 'oose', auth: 'r3dis' }
  },
  admin: { enabled: false, port: 5973, workers: { count: 1 }, cookie: { secret: 'oose', maxAge: 2592000000 } },
  prism: {
    enabled: true,
    name: 'prism1',
    port: 5971,
    host: 'prism1.cdn.example.net',
    username: 'prism-user',
    password: 'prism-pass',
    workers: { count: 4, maxConnections: 10000 },
    denyStaticTypes: ['mp4', 'flv', 'mkv'],
    existsCacheLife: 30,
    purchaseCacheLife: 30
  },
  store: {
    enabled: true,
    prism: 'prism1',
    name: 'store1',
    port: 5972,
    host: 'store1.cdn.example.net',
    username: 'store-user',
    password: 'store-pass',
    workers: { count: 2, maxConnections: 10000 },
    inventoryConcurrency: 64,
    inventoryThrottle: 100,
    purchasePruneConcurrency: 512,
    verifyExpiration: 15552000000
  },
  clonetool: { desired: 3, hashWhitelist: [], storeProtected: [] },
  stats: { life: 86400, afterlife: 604800 }
};
`;

const file = path.join(dir, "config.local.js");
writeFileSync(file, CONFIG_LOCAL_JS);
const KEY = "0123456789abcdef0123456789abcdef";

const reason = (r: { dropped: { key: string; reason: string }[] }, key: string) =>
  r.dropped.find((d) => d.key === key)?.reason;

test("loads config.local.js as CommonJS, with require and __dirname", (t) => {
  const raw = loadOoseConfigFile(file);
  t.is((raw.ssl as { pem: string }).pem, path.join(dir, "ssl/oose.pem"));
  t.is((raw.prism as { name: string }).name, "prism1");
  const json = path.join(dir, "config.json");
  writeFileSync(json, JSON.stringify(raw));
  t.deepEqual(loadOoseConfigFile(json), raw);
});

test("a file that enables both roles needs --role; each role imports on its own", (t) => {
  const raw = loadOoseConfigFile(file);
  t.throws(() => importOoseConfig(raw), { instanceOf: ImportError, message: /--role prism and --role store/ });
  const prism = importOoseConfig(raw, { role: "prism", signingKey: KEY });
  const store = importOoseConfig(raw, { role: "store", signingKey: KEY });
  t.deepEqual(prism.todo, []);
  t.deepEqual(store.todo, []);

  const p = parseConfig(prism.config);
  t.like(p, {
    role: "prism",
    name: "prism1",
    domain: "cdn.example.net",
    host: "host1",
    dataRoot: "/data/disk1",
    advertiseUrl: "https://prism1.cdn.example.net:5971",
    listen: { host: "prism1.cdn.example.net", port: 5971 },
    tls: { pem: path.join(dir, "ssl/oose.pem") },
    couchdb: { url: "http://couch.internal:5984", username: "oose", password: "couch-secret", database: "oose" },
    redis: { url: "redis://:r3dis@redis.internal:6380/1", prefix: "oose" },
    purchase: { life: 7_200_000, afterlife: 7_200_000, waitReplicas: 0 },
    heartbeat: { retries: 8, pingTimeout: 2000, startDelay: 60_000, voteLife: 60_000 },
    auth: {
      prism: { username: "prism-user", password: "prism-pass" },
      store: { username: "store-user", password: "store-pass" },
    },
    denyStaticTypes: ["mp4", "flv", "mkv"],
    existsCacheLife: 30_000,
    replicas: 3,
  });
  const s = parseConfig(store.config);
  t.like(s, {
    role: "store",
    name: "store1",
    prism: "prism1",
    advertiseUrl: "https://store1.cdn.example.net:5972",
    listen: { port: 5972 },
    verifyExpiration: 15_552_000_000,
  });
});

test("every key it does not carry over is listed with a reason", (t) => {
  const r = importOoseConfig(loadOoseConfigFile(file), { role: "prism", signingKey: KEY });
  t.regex(reason(r, "admin.enabled")!, /admin panel/);
  t.regex(reason(r, "admin.cookie.secret")!, /admin panel/);
  t.regex(reason(r, "prism.workers.count")!, /one process per node/);
  t.regex(reason(r, "api.maxSockets")!, /keep-alive/);
  t.regex(reason(r, "api.sessionTokenName")!, /built in/);
  t.regex(reason(r, "group")!, /unused/);
  t.regex(reason(r, "prism.purchaseCacheLife")!, /Redis/);
  t.regex(reason(r, "heartbeat.systemKey")!, /identity/);
  t.regex(reason(r, "couchdb.options")!, /cradle/);
  t.regex(reason(r, "couchdb.prefix")!, /2\.1 layout/);
  t.regex(reason(r, "redis.host")!, /local Redis is not used/);
  t.regex(reason(r, "store.port")!, /--role store/);
  t.regex(reason(r, "store.inventoryThrottle")!, /oose inventory/);
  t.regex(reason(r, "clonetool.hashWhitelist")!, /oose clonetool/);
  t.regex(reason(r, "stats.life")!, /statTrack/);
  t.is(reason(r, "ssl.pem"), undefined, "ssl.pem is carried over as tls.pem");
  t.true(r.mapped.some((m) => m.from === "ssl.pem" && m.to === "tls.pem"));
  t.true(r.mapped.some((m) => m.from === "prism.existsCacheLife" && /seconds/.test(m.note ?? "")));
  // Nothing is lost silently: every leaf is mapped or dropped.
  t.false(r.dropped.some((d) => /not an OOSE 2\.2 key/.test(d.reason)));
});

test("a minimal store config falls back to OOSE's defaults and says what is still to set", (t) => {
  const r = importOoseConfig({ store: { enabled: true, name: "store7" }, unknownThing: 1 });
  t.is(r.role, "store");
  t.like(r.config, {
    name: "store7",
    prism: "prism1",
    listen: { host: "0.0.0.0", port: 5972 },
    auth: { prism: { username: "oose", password: "oose" }, store: { username: "oose", password: "oose" } },
    couchdb: { url: "http://127.0.0.1:5984" },
    redis: { url: "redis://127.0.0.1:6379/0" },
  });
  t.regex(reason(r, "unknownThing")!, /not an OOSE 2\.2 key/);
  const todo = r.todo.join("\n");
  t.regex(todo, /signingKey/);
  t.regex(todo, /advertiseUrl/);
  t.regex(todo, /dataRoot/);
  t.regex(todo, /plain HTTP until tls\.pem/);
  t.throws(() => importOoseConfig({ prism: { enabled: false } }), { message: /--role/ });
});

test("env output round-trips through loadConfig", (t) => {
  const r = importOoseConfig(loadOoseConfigFile(file), { role: "prism", signingKey: KEY });
  const env = Object.fromEntries(
    toEnvLines(r.config).map((line) => {
      const [, k, v] = /^([A-Z0-9_]+)='(.*)'$/s.exec(line)!;
      return [k!, v!.replaceAll("'\\''", "'")];
    }),
  );
  t.is(env.OOSE_AUTH__PRISM__USERNAME, "prism-user");
  t.is(env.OOSE_HEARTBEAT__PING_TIMEOUT, "2000");
  t.deepEqual(envToObject(env).denyStaticTypes, ["mp4", "flv", "mkv"]);
  t.deepEqual(loadConfig(env), parseConfig(r.config));
});

test("oose config import writes the file and reports on stderr", (t) => {
  const out = path.join(dir, "prism1.json");
  const res = spawnSync(
    process.execPath,
    ["bin/oose.js", "config", "import", file, "--role", "prism", "--signing-key", KEY, "--out", out],
    { cwd: root, encoding: "utf8", timeout: 60_000 },
  );
  t.is(res.status, 0, res.stderr);
  t.like(JSON.parse(readFileSync(out, "utf8")), {
    role: "prism",
    name: "prism1",
    tls: { pem: path.join(dir, "ssl/oose.pem") },
  });
  t.regex(res.stderr, /imported as prism prism1/);
  t.regex(res.stderr, /admin\.enabled: the admin panel is gone/);
  t.regex(res.stderr, /ssl\.pem → tls\.pem/);
  const both = spawnSync(process.execPath, ["bin/oose.js", "config", "import", file], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });
  t.is(both.status, 2);
  t.regex(both.stderr, /--role prism and --role store/);
});

import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { clusterFileEnv } from "../../app/cli/cluster-file.js";
import { loadToolConfig } from "../../app/cli/common.js";
import { ConfigError, loadConfig } from "../../app/config.js";
import { defaultSpec } from "../../app/topology/model.js";

// The `oose` tools find a cluster from its cluster.json: the default file in
// the working directory, --cluster or OOSE_CLUSTER; env, OOSE_CONFIG and flags win.

const info = {
  couchdb: "http://127.0.0.1:15971",
  ca: "tls/ca.crt",
  redis: { sentinels: [{ host: "127.0.0.1", port: 15974 }], name: "oose" },
  prismAuth: { username: "prism", password: "p-secret" },
  storeAuth: { username: "store", password: "s-secret" },
};

function dir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "oose-cluster-file-"));
  mkdirSync(path.join(d, ".oose"));
  writeFileSync(path.join(d, ".oose", "cluster.json"), JSON.stringify(info));
  return d;
}

test("the default .oose/cluster.json gives CouchDB, the Sentinels, the master name, the CA and the credentials", (t) => {
  const cwd = dir();
  const { file, vars } = clusterFileEnv([], {}, cwd);
  t.is(file, path.join(cwd, ".oose", "cluster.json"));
  t.like(vars, {
    OOSE_COUCHDB__URL: info.couchdb,
    OOSE_REDIS__SENTINELS: JSON.stringify(info.redis.sentinels),
    OOSE_REDIS__NAME: "oose",
    OOSE_TLS__CA: path.join(cwd, ".oose", "tls", "ca.crt"),
    OOSE_AUTH__PRISM__PASSWORD: "p-secret",
    OOSE_AUTH__STORE__USERNAME: "store",
  });
  const config = loadToolConfig({}, vars);
  t.is(config.couchdb.url, info.couchdb);
  t.deepEqual(config.redis?.sentinels, info.redis.sentinels);
});

test("without a file and with none named, nothing is added", (t) => {
  t.deepEqual(clusterFileEnv([], {}, os.tmpdir()).vars, {});
});

test("--cluster and OOSE_CLUSTER name a file; one that cannot be read is a config error", (t) => {
  const cwd = dir();
  const named = path.join(cwd, ".oose", "cluster.json");
  t.is(clusterFileEnv(["status", "--cluster", named], {}, os.tmpdir()).vars.OOSE_COUCHDB__URL, info.couchdb);
  t.is(clusterFileEnv([`--cluster=${named}`], {}, os.tmpdir()).vars.OOSE_REDIS__NAME, "oose");
  t.is(clusterFileEnv([], { OOSE_CLUSTER: named }, os.tmpdir()).vars.OOSE_COUCHDB__URL, info.couchdb);
  t.throws(() => clusterFileEnv([], { OOSE_CLUSTER: path.join(cwd, "missing.json") }, cwd), {
    instanceOf: ConfigError,
  });
  writeFileSync(path.join(cwd, "foreign.json"), JSON.stringify({ hello: 1 }));
  t.throws(() => clusterFileEnv(["--cluster", "foreign.json"], {}, cwd), { message: /not a cluster.json/ });
});

test("env and OOSE_CONFIG win over the file, a whole group at a time", (t) => {
  const cwd = dir();
  const env = {
    OOSE_COUCHDB__URL: "http://couch.example:5984",
    OOSE_REDIS__URL: "redis://redis.example:6379",
    OOSE_AUTH__PRISM__USERNAME: "ops",
  };
  const { vars } = clusterFileEnv([], env, cwd);
  t.false("OOSE_COUCHDB__URL" in vars);
  t.false("OOSE_REDIS__SENTINELS" in vars, "a Redis URL is never mixed with the file's Sentinels");
  t.false("OOSE_REDIS__NAME" in vars);
  t.false("OOSE_AUTH__PRISM__PASSWORD" in vars, "the prism credentials are the env's, both parts");
  t.is(vars.OOSE_AUTH__STORE__PASSWORD, "s-secret");
  const conf = path.join(cwd, "tool.json");
  writeFileSync(
    conf,
    JSON.stringify({ tls: { ca: "/etc/oose/ca.crt" }, redis: { sentinels: [{ host: "s", port: 1 }] } }),
  );
  const fromFile = clusterFileEnv([], { OOSE_CONFIG: conf }, cwd).vars;
  t.false("OOSE_TLS__CA" in fromFile);
  t.false("OOSE_REDIS__SENTINELS" in fromFile);
  t.is(fromFile.OOSE_COUCHDB__URL, info.couchdb);
});

test("the Sentinel master name defaults to the cluster's own, oose", (t) => {
  const config = loadConfig({
    OOSE_ROLE: "prism",
    OOSE_NAME: "prism1",
    OOSE_ADVERTISE_URL: "http://127.0.0.1:5971",
    OOSE_DATA_ROOT: "/srv/oose/prism1",
    OOSE_COUCHDB__URL: "http://127.0.0.1:5984",
    OOSE_REDIS__SENTINELS: '[{"host":"127.0.0.1","port":26379}]',
    OOSE_AUTH__PRISM__USERNAME: "prism",
    OOSE_AUTH__PRISM__PASSWORD: "prism-secret",
    OOSE_AUTH__STORE__USERNAME: "store",
    OOSE_AUTH__STORE__PASSWORD: "store-secret",
    OOSE_SIGNING_KEY: "0123456789abcdef0123",
  });
  t.is(config.redis.name, "oose");
  t.is(defaultSpec(1, 1, 1).redis.name, config.redis.name, "the local and Pulumi clusters name their master the same");
});

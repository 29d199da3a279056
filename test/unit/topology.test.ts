import { readFileSync } from "node:fs";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import test from "ava";
import { parse } from "yaml";
import { ConfigSchema, loadConfig } from "../../app/config.js";
import { envName, envToObject } from "../../app/config-env.js";
import { nodeEnv, SECRET_ENV } from "../../app/topology/env.js";
import { type ClusterNode, ClusterSpecSchema, checkSpec, defaultSpec, nodesOf } from "../../app/topology/model.js";
import { dockerAddressing } from "../../infra/addressing.js";
import { parseStackConfig } from "../../infra/config.js";
import { planLayout } from "../../infra/layout.js";
import { localAddressing } from "../../infra/local/addressing.js";
import type { StackConfig } from "../../infra/stack.js";

const secrets = {
  prismAuth: { username: "prism", password: "p-secret-123" },
  storeAuth: { username: "store", password: "s-secret-456" },
  signingKey: "a-signing-key-of-32-characters-x",
};

test("defaultSpec: 2 prisms, 4 stores, each prism's stores in different zones and hosts", (t) => {
  const spec = defaultSpec();
  t.true(Value.Check(ClusterSpecSchema, spec));
  t.deepEqual(checkSpec(spec), []);
  t.deepEqual(
    spec.prisms.map((p) => p.name),
    ["prism1", "prism2"],
  );
  t.is(spec.stores.length, 4);
  t.is(spec.replicas, 2);
  for (const prism of spec.prisms) {
    const own = spec.stores.filter((s) => s.prism === prism.name);
    t.is(own.length, 2, prism.name);
    t.is(new Set(own.map((s) => s.zone)).size, own.length, `${prism.name} zones`);
    t.is(new Set(own.map((s) => s.host)).size, own.length, `${prism.name} hosts`);
  }
  t.is(defaultSpec(1, 1, 3).replicas, 1, "replicas never exceed the stores");
});

test("checkSpec catches duplicate names, unknown prisms and too many replicas", (t) => {
  const spec = defaultSpec();
  spec.stores[1] = { ...spec.stores[1]!, name: "store1" };
  spec.stores[2] = { ...spec.stores[2]!, prism: "prism9" };
  spec.prisms.push({ name: "store4", site: "local", zone: "zone1", host: "h" });
  spec.replicas = 9;
  const problems = checkSpec(spec);
  t.true(problems.includes("store store1: name is not unique"), problems.join("; "));
  t.true(problems.includes("store store4: name is not unique"), problems.join("; "));
  t.true(problems.includes("store store3: unknown prism prism9"), problems.join("; "));
  t.true(
    problems.some((p) => p.startsWith("replicas 9")),
    problems.join("; "),
  );
});

for (const [prisms, perPrism, couch] of [
  [2, 2, undefined],
  [3, 3, "http://admin:pw@couch.example:5984"],
] as const) {
  test(`loadConfig(nodeEnv) accepts every node of the local addressing (${prisms}×${perPrism})`, (t) => {
    const spec = defaultSpec(prisms, perPrism);
    const at = localAddressing(spec, 15970, "/tmp/oose-data", couch);
    for (const node of nodesOf(spec)) {
      const config = loadConfig(nodeEnv(spec, node, at, secrets, { OOSE_HEARTBEAT__FREQUENCY: "1000" }));
      t.is(config.role, node.role);
      t.is(config.name, node.name);
      t.is(config.prism, node.role === "store" ? node.prism : node.name);
      t.is(config.zone, node.zone);
      t.is(config.listen.host, "127.0.0.1");
      t.is(config.advertiseUrl, `http://127.0.0.1:${config.listen.port}`);
      t.is(config.dataRoot, `/tmp/oose-data/${node.name}`);
      t.is(config.couchdb.url, couch ?? "http://127.0.0.1:15971");
      t.deepEqual(
        config.redis.sentinels,
        [15974, 15975, 15976].map((port) => ({ host: "127.0.0.1", port })),
      );
      t.is(config.heartbeat.frequency, 1000);
      t.is(config.auth.store.password, "s-secret-456");
      if (node.role === "store") t.regex(config.publicUrl ?? "", /^http:\/\/127\.0\.0\.1:160[4-9]\d$/);
      else t.is(config.publicUrl, undefined);
    }
  });
}

/** The example stacks' `oose:*` keys as parseStackConfig receives them. */
function stack(file: string): StackConfig {
  const doc = parse(readFileSync(new URL(`../../${file}`, import.meta.url), "utf8")) as {
    config: Record<string, unknown>;
  };
  return parseStackConfig(Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.slice("oose:".length), v])));
}

const allSecrets = {
  ...secrets,
  couchdb: { username: "admin", password: "c-secret-789" },
  redisPassword: "r-secret-012",
  sentinelPassword: "t-secret-345",
};
const localTls = { ca: "/tls/ca.pem", cert: (n: string) => `/tls/${n}.pem`, key: (n: string) => `/tls/${n}-key.pem` };

/** Every node of both targets with its nodeEnv: local over HTTP and HTTPS, and both example stacks. */
function targets(): [string, ClusterNode, Record<string, string>][] {
  const out: [string, ClusterNode, Record<string, string>][] = [];
  const spec = defaultSpec(2, 2);
  for (const tls of [undefined, localTls]) {
    const at = localAddressing(spec, 15970, "/tmp/oose-data", undefined, tls);
    for (const n of nodesOf(spec)) out.push([`local${tls ? " tls" : ""}`, n, nodeEnv(spec, n, at, allSecrets)]);
  }
  for (const file of ["Pulumi.example.yaml", "Pulumi.example-3hosts.yaml"]) {
    const cfg = stack(file);
    const layout = planLayout(cfg);
    for (const n of nodesOf(cfg)) out.push([file, n, nodeEnv(cfg, n, dockerAddressing(layout, n.host), allSecrets)]);
  }
  return out;
}

test("every variable nodeEnv sets names a config key, and loadConfig reads back each value", (t) => {
  for (const [target, node, env] of targets()) {
    const config = loadConfig(env) as unknown as Record<string, unknown>;
    for (const [name, value] of Object.entries(env)) {
      if (name === "UV_THREADPOOL_SIZE") continue;
      t.true(name.startsWith("OOSE_"), `${target} ${node.name}: ${name}`);
      const path = Object.keys(flatten(envToObject({ [name]: value })))[0]!.split(".");
      t.is(envName(path), name, `${target} ${node.name}: ${name} is spelt as the schema's key`);
      let schema: TSchema = ConfigSchema;
      for (const part of path) schema = schema.properties?.[part];
      t.truthy(schema, `${target} ${node.name}: ${name} is not a config key`);
      const read = path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], config);
      t.is(typeof read === "string" ? read : JSON.stringify(read), value, `${target} ${node.name}: ${name}`);
    }
  }
});

test("the secret variables are the ones nodeEnv fills from the secrets", (t) => {
  const values = new Set([
    ...["p-secret-123", "s-secret-456", secrets.signingKey, "c-secret-789", "r-secret-012", "t-secret-345"],
  ]);
  for (const [target, node, env] of targets()) {
    const secret = Object.keys(env).filter((k) => values.has(env[k]!));
    t.deepEqual(secret.sort(), [...SECRET_ENV].sort(), `${target} ${node.name}`);
  }
});

function flatten(o: Record<string, unknown>, at = ""): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).flatMap(([k, v]) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.entries(flatten(v as Record<string, unknown>, `${at}${k}.`))
        : [[`${at}${k}`, v]],
    ),
  );
}

import { Value } from "@sinclair/typebox/value";
import test from "ava";
import { loadConfig } from "../../app/config.js";
import { nodeEnv } from "../../app/topology/env.js";
import { ClusterSpecSchema, checkSpec, defaultSpec, nodesOf } from "../../app/topology/model.js";
import { localAddressing } from "../../infra/local/addressing.js";

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

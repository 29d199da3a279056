import test from "ava";
import { parseStackConfig, StackConfigError } from "../../infra/config.js";
import { stackConfig } from "./harness.js";

// The stack config is validated as a whole: every problem is reported at once,
// with the key it concerns, before any resource is declared.

/** An example stack file as parseStackConfig receives it (namespace stripped, JSON decoded). */
function raw(file: string): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(stackConfig(file)).map(([k, v]) => [k.slice("oose:".length), /^[[{]/.test(v) ? JSON.parse(v) : v]),
  );
}

function problems(cfg: Record<string, unknown>): string[] {
  const err = (() => {
    try {
      parseStackConfig(cfg);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof StackConfigError)) throw new Error("expected a StackConfigError");
  return err.problems;
}

test("both example stacks are valid", (t) => {
  for (const file of ["Pulumi.example.yaml", "Pulumi.example-3hosts.yaml"]) {
    const cfg = parseStackConfig(raw(file));
    t.true(cfg.hosts.length > 0, file);
    t.is(cfg.images.couchdb, "couchdb:3.4.2", "official image, pinned by default");
  }
});

test("scalars arrive as strings and are typed by the schema", (t) => {
  const cfg = parseStackConfig({ ...raw("Pulumi.example.yaml"), replicas: "3", front: "false" });
  t.is(cfg.replicas, 3);
  t.false(cfg.front);
});

test("every schema problem is listed at once, by key", (t) => {
  const cfg = raw("Pulumi.example.yaml");
  const list = problems({
    ...cfg,
    replica: 2,
    hosts: [{ name: "Local", docker: "http://x", address: "127.0.0.1" }],
    ports: { front: 70000 },
    limits: { prism: { memory: 512 } },
  });
  t.true(list.includes("replica: unknown key"), list.join("\n"));
  t.true(list.includes("limits.prism.memory: unknown key"), list.join("\n"));
  t.true(list.some((p) => p.startsWith("hosts[0].name:")));
  t.true(list.some((p) => p.startsWith("hosts[0].docker:")));
  t.true(list.some((p) => p.startsWith("ports.front:")));
});

test("missing required keys are named", (t) => {
  const list = problems({ domain: "example.com" });
  for (const key of ["hosts", "prisms", "stores"])
    t.true(
      list.some((p) => p.startsWith(`${key}:`)),
      key,
    );
});

test("placement problems are listed together: unknown hosts, names, replicas, TLS halves", (t) => {
  const cfg = raw("Pulumi.example.yaml") as { stores: { name: string; host: string }[] };
  const stores = cfg.stores.map((s, i) => (i === 0 ? { ...s, host: "elsewhere" } : s));
  stores[1] = { ...stores[1]!, name: "store3" };
  const list = problems({ ...cfg, stores, replicas: 9, tlsCert: "-----BEGIN CERTIFICATE-----" });
  t.deepEqual(
    list.filter((p) => /elsewhere|not unique|replicas 9|tlsCert/.test(p)),
    [
      "store store3: name is not unique",
      "replicas 9 exceeds the 4 stores",
      "stores[0].host: unknown host elsewhere",
      "tlsCert and tlsKey: set both or neither",
    ],
  );
});

test("clashing host ports are reported with both owners", (t) => {
  const list = problems({ ...raw("Pulumi.example.yaml"), ports: { front: 8081, storeNginx: 8080 } });
  t.deepEqual(list, ["host local: port 8081 is published by both storeNginx store2 and front front (see ports)"]);
});

test("a CouchDB cluster across hosts needs one host per node", (t) => {
  const cfg = raw("Pulumi.example-3hosts.yaml");
  const list = problems({ ...cfg, couchdb: { nodes: 3, hosts: ["node1", "node2"] } });
  t.true(
    list.some((p) => p.startsWith("couchdb: 3 nodes need as many distinct hosts")),
    list.join("\n"),
  );
});

test("a subnet too small for the Redis and Sentinel addresses or the other containers, or one set across hosts, is refused", (t) => {
  const one = raw("Pulumi.example.yaml");
  const [local] = one.hosts as Record<string, unknown>[];
  const small = problems({
    ...one,
    hosts: [{ ...local, subnet: "10.9.0.0/27" }],
    redis: { replicas: 4, sentinels: 3 },
  });
  t.deepEqual(small, [
    "hosts local: subnet has room for 6 Redis and Sentinel addresses, not 8",
    "hosts local: subnet has room for 15 other containers, not 16",
  ]);
  t.notThrows(() => parseStackConfig({ ...one, hosts: [{ ...local, subnet: "10.9.0.0/24" }] }));
  const three = raw("Pulumi.example-3hosts.yaml");
  const hosts = (three.hosts as Record<string, unknown>[]).map((h, i) => (i ? h : { ...h, subnet: "10.9.0.0/24" }));
  t.deepEqual(problems({ ...three, hosts }), [
    "hosts node1: subnet is for one host; across hosts the nodes meet at host addresses",
  ]);
});

test("the error message lists every problem on its own line", (t) => {
  const err = t.throws(() => parseStackConfig({ domain: 1, hosts: [] }), { instanceOf: StackConfigError });
  t.regex(err.message, /^Invalid stack configuration \(\d+ problems\):\n {2}- /);
  t.is(err.message.split("\n").length, (err as StackConfigError).problems.length + 1);
});

test("a signing key nginx could not hold is refused", (t) => {
  const list = problems({ ...raw("Pulumi.example.yaml"), signingKey: 'short"key' });
  t.deepEqual(
    list.map((p) => p.split(":")[0]),
    ["signingKey"],
  );
  t.false(list.join("").includes('short"key'), "the secret itself is not echoed");
});

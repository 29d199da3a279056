import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { parse, parseAllDocuments, stringify } from "yaml";
import { loadConfig } from "../../app/config.js";
import { nodeEnv, SECRET_ENV, type Secrets } from "../../app/topology/env.js";
import { nodesOf } from "../../app/topology/model.js";
import { parseKubeStackConfig } from "../../infra/kubernetes/config.js";
import { kubeAddressing, kubeSpec } from "../../infra/kubernetes/names.js";
import { StackConfigError } from "../../infra/config.js";
import { parseClusterConfig } from "../../infra/target.js";
import { isSecretValue, plain, stackConfig } from "./harness.js";
import { byKind, deployKube, KUBE_STACK, type KubeDeployment, type KubeObject, manifest } from "./kube-harness.js";
import { schemaErrors } from "./kube-schema.js";

// Pulumi.example-k8s.yaml (3 stores, 2 prisms, `target: kubernetes`) under the
// mocks: the objects the provider would apply, read back as manifests.

type Container = { name: string; env?: Env[]; volumeMounts?: { name: string; readOnly?: boolean }[] };
type Env = { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> };
type PodSpec = { containers: Container[]; initContainers?: Container[]; affinity?: Record<string, unknown> };

const GIVEN = { signingKey: "given-signing-key-0123456789", prismPassword: "given-prism-password" };
let d: KubeDeployment;
test.before(async () => {
  d = await deployKube({}, GIVEN);
});

const spec = (o: KubeObject) => plain(o.inputs.spec) as Record<string, unknown>;
const podOf = (o: KubeObject) => (spec(o).template as { spec: PodSpec }).spec;
const named = (kind: string, name: string) => {
  const o = byKind(d, kind).find((x) => (plain(x.inputs.metadata) as { name?: string }).name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const stores = () => ["store1", "store2", "store3"].map((s) => named("StatefulSet", `oose-${s}`));
const prisms = () => ["prism1", "prism2"].map((p) => named("Deployment", `oose-${p}`));
const container = (pod: PodSpec, name: string) => pod.containers.find((c) => c.name === name)!;
const appSecret = () =>
  plain(byKind(d, "Secret").find((o) => o.name === "app-secret")!.inputs.stringData) as Record<string, string>;

test("every store has exactly one volume claim, and its nginx mounts it read-only", (t) => {
  t.is(byKind(d, "PersistentVolumeClaim").length, 0, "no claim outside the StatefulSets' templates");
  for (const set of stores()) {
    const claims = spec(set).volumeClaimTemplates as { metadata: { name: string }; spec: Record<string, unknown> }[];
    t.is(claims.length, 1);
    t.like(claims[0], {
      metadata: { name: "data" },
      spec: { storageClassName: "fast-ssd", resources: { requests: { storage: "500Gi" } } },
    });
    const pod = podOf(set);
    t.deepEqual(
      container(pod, "nginx").volumeMounts?.filter((m) => m.name === "data"),
      [{ name: "data", mountPath: "/data", readOnly: true }],
    );
    t.falsy(container(pod, "app").volumeMounts?.find((m) => m.name === "data")?.readOnly);
    t.is(spec(set).replicas, 1);
    t.is(spec(set).podManagementPolicy, "OrderedReady");
  }
});

test("every node's env is nodeEnv's, and passes loadConfig once the pod fills in its node and zone", (t) => {
  const cfg = parseKubeStackConfig(
    Object.fromEntries(Object.entries(stackConfig(KUBE_STACK)).map(([k, v]) => [k.slice(5), parse(v)])),
  );
  const zoneFile = path.join(mkdtempSync(path.join(tmpdir(), "oose-zone-")), "topology.json");
  writeFileSync(zoneFile, JSON.stringify({ zone: "zone-from-node" }));
  const secrets = appSecret();
  const resolve = (env: Env[]): Record<string, string> =>
    Object.fromEntries(
      env.map((e) => {
        if (e.valueFrom?.secretKeyRef) return [e.name, secrets[e.valueFrom.secretKeyRef.key!]!];
        if (e.valueFrom?.fieldRef?.fieldPath === "spec.nodeName") return [e.name, "node-7"];
        if (e.name === "OOSE_CONFIG") return [e.name, zoneFile];
        return [e.name, e.value!];
      }),
    );
  const real: Secrets = {
    prismAuth: { username: "prism", password: GIVEN.prismPassword },
    storeAuth: { username: "store", password: secrets.OOSE_AUTH__STORE__PASSWORD! },
    couchdb: { username: "admin", password: secrets.OOSE_COUCHDB__PASSWORD! },
    signingKey: GIVEN.signingKey,
    redisPassword: secrets.OOSE_REDIS__PASSWORD!,
  };
  const k8sSpec = kubeSpec(cfg);
  for (const node of nodesOf(k8sSpec)) {
    const workload =
      node.role === "store" ? named("StatefulSet", `oose-${node.name}`) : named("Deployment", `oose-${node.name}`);
    const env = resolve(container(podOf(workload), "app").env!);
    const config = loadConfig(env);
    t.is(config.name, node.name);
    t.is(config.host, "node-7", "the node's name, from the downward API");
    t.is(config.zone, cfg[`${node.role}s`].find((n) => n.name === node.name)?.zone ?? "zone-from-node");
    t.is(config.signingKey, GIVEN.signingKey);
    // The same builder as the other targets: only host, zone (and a store's access log) are the pod's.
    const expected = nodeEnv(k8sSpec, node, kubeAddressing(cfg), real);
    const { OOSE_HOST, OOSE_ZONE, OOSE_CONFIG, OOSE_ACCESS_LOG__DIR, ...rest } = env;
    for (const k of ["OOSE_HOST", "OOSE_ZONE"]) delete expected[k];
    t.deepEqual(rest, expected, node.name);
  }
});

test("secrets reach manifests only as Secret references", (t) => {
  const leaks: string[] = [];
  const scan = (v: unknown, at: string) => {
    const s = JSON.stringify(plain(v)) ?? "";
    for (const secret of d.secretValues) if (s.includes(secret)) leaks.push(at);
  };
  for (const o of d.objects.filter((x) => x.type.startsWith("kubernetes:"))) {
    if (o.type === "kubernetes:core/v1:Secret") {
      t.true(
        isSecretValue(o.inputs.stringData) || Object.values(o.inputs.stringData as object).every(isSecretValue),
        o.name,
      );
      continue;
    }
    scan(o.inputs, `${o.type} ${o.name}`);
  }
  t.deepEqual(leaks, []);
  for (const w of [...stores(), ...prisms(), ...byKind(d, "Job")]) {
    for (const c of podOf(w).containers)
      for (const e of c.env ?? [])
        if (SECRET_ENV.includes(e.name)) t.truthy(e.valueFrom?.secretKeyRef, `${w.name} ${c.name} ${e.name}`);
  }
  t.is(appSecret().OOSE_SIGNING_KEY, GIVEN.signingKey);
  // Named by the provider, so new contents come under a new name and the pods reading them roll.
  const ref = container(podOf(stores()[0]!), "app").env!.find((e) => e.name === "OOSE_SIGNING_KEY")!;
  t.is(ref.valueFrom?.secretKeyRef?.name, "app-secret-generated");
});

test("the migration job comes after CouchDB's setup and Redis, and before every prism and store", (t) => {
  const jobs = byKind(d, "Job");
  const migrate = jobs.find((j) => j.name === "migrate-job")!;
  t.deepEqual((podOf(migrate).containers[0] as { command?: string[] }).command, [
    "node",
    "bin/oose.js",
    "migrate",
    "up",
  ]);
  for (const dep of ["couchdb-setup", "redis-redis", "redis-sentinel"]) t.true(migrate.dependsOn.includes(dep), dep);
  t.true(jobs.find((j) => j.name === "couchdb-setup")!.dependsOn.includes("couchdb-set"));
  for (const w of [...stores(), ...prisms()]) t.true(w.dependsOn.includes("migrate-job"), w.name);
});

test("store pods keep apart across nodes and zones; prisms roll one at a time", (t) => {
  for (const set of stores()) {
    const anti = podOf(set).affinity?.podAntiAffinity as Record<
      string,
      { topologyKey?: string; podAffinityTerm?: { topologyKey: string; labelSelector: unknown } }[]
    >;
    t.is(anti.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey, "kubernetes.io/hostname");
    const preferred = anti.preferredDuringSchedulingIgnoredDuringExecution!.map((p) => p.podAffinityTerm!.topologyKey);
    t.deepEqual(preferred, ["topology.kubernetes.io/zone"]);
  }
  for (const p of prisms()) t.like(spec(p).strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } });
});

test("disruption budgets cover the stores and the prisms", (t) => {
  const budgets = byKind(d, "PodDisruptionBudget").map((b) => spec(b));
  const podLabels = (o: KubeObject) =>
    (spec(o).template as { metadata: { labels: Record<string, string> } }).metadata.labels;
  for (const workloads of [stores(), prisms()]) {
    const covering = budgets.filter((b) =>
      workloads.every((w) =>
        Object.entries((b.selector as { matchLabels: Record<string, string> }).matchLabels).every(
          ([k, v]) => podLabels(w)[k] === v,
        ),
      ),
    );
    t.is(covering.length, 1);
    t.is(covering[0]!.maxUnavailable, 1);
  }
});

test("probes: alive on /livez (no backend asked), ready on /readyz (503 without CouchDB or Redis)", (t) => {
  for (const w of [...stores(), ...prisms()]) {
    const app = container(podOf(w), "app") as Container & Record<string, { httpGet: { path: string } }>;
    t.is(app.startupProbe!.httpGet.path, "/livez");
    t.is(app.livenessProbe!.httpGet.path, "/livez");
    t.is(app.readinessProbe!.httpGet.path, "/readyz");
  }
});

test("every manifest, rendered to YAML, is valid against the Kubernetes OpenAPI schemas", (t) => {
  const docs = d.objects.map(manifest).filter((m) => m !== undefined);
  t.true(docs.length > 30);
  const yaml = docs.map((m) => stringify(m)).join("---\n");
  const errors = parseAllDocuments(yaml).flatMap((doc) => schemaErrors(doc.toJS()));
  t.deepEqual(errors, []);
  // The validator does refuse what the API would.
  const bad = structuredClone(docs.find((m) => m.kind === "StatefulSet")!) as { spec: { replicas: unknown } };
  bad.spec.replicas = "three";
  t.regex(schemaErrors(bad).join(), /replicas must be integer/);
});

test("a bad Kubernetes stack config is refused with every problem listed", (t) => {
  const raw = Object.fromEntries(Object.entries(stackConfig(KUBE_STACK)).map(([k, v]) => [k.slice(5), parse(v)]));
  const err = t.throws(
    () =>
      parseClusterConfig({
        ...raw,
        hosts: [{ name: "local" }],
        stores: [{ name: "store1", prism: "prism1", host: "local" }],
        kubernetes: { storage: { store: { size: "lots" } }, expose: "nodeport" },
      }),
    { instanceOf: StackConfigError },
  ) as StackConfigError;
  for (const p of [
    "hosts: unknown key",
    "stores[0].host: unknown key",
    "kubernetes.storage.store.size:",
    "kubernetes.expose:",
  ])
    t.true(
      err.problems.some((x) => x.startsWith(p)),
      `${p}\n${err.message}`,
    );
  const semantic = t.throws(
    () =>
      parseClusterConfig({
        ...raw,
        replicas: 5,
        prisms: [...(raw.prisms as object[]), { name: "redis" }],
        tlsCert: "-----BEGIN CERTIFICATE-----",
        tlsKey: "-----BEGIN PRIVATE KEY-----",
        couchdb: { url: "http://couch:5984" },
        redis: { external: { url: "redis://r:6379" } },
      }),
    { instanceOf: StackConfigError },
  ) as StackConfigError;
  t.deepEqual(semantic.problems, [
    "replicas 5 exceeds the 3 stores",
    "redis: the name is taken by the cluster's own objects; rename the node",
    "kubernetes.ingress.certManager: cert-manager or tlsCert/tlsKey, not both",
    "couchdbPassword: an existing CouchDB (couchdb.url) needs its admin password set",
    "redisPassword: an existing Redis (redis.external) needs its password set",
  ]);
});

test("the target is docker unless the stack says kubernetes, and an unknown one is refused", (t) => {
  const docker = Object.fromEntries(
    Object.entries(stackConfig("Pulumi.example.yaml")).map(([k, v]) => [k.slice(5), parse(v)]),
  );
  t.false("target" in parseClusterConfig(docker));
  t.false("target" in parseClusterConfig({ ...docker, target: "docker" }));
  const err = t.throws(() => parseClusterConfig({ ...docker, target: "k8s" }), { instanceOf: StackConfigError });
  t.deepEqual((err as StackConfigError).problems, ["target: expected docker or kubernetes"]);
});

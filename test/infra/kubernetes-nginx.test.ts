import test from "ava";
import { parseAllDocuments, stringify } from "yaml";
import { plain } from "./harness.js";
import { byKind, deployKube, type KubeDeployment, manifest } from "./kube-harness.js";
import { schemaErrors } from "./kube-schema.js";

// The other shape of the Kubernetes target: an existing CouchDB and Redis, the
// front nginx and store nginxes behind Services of their own, TLS from the
// stack's certificate, and every zone in the config (no zone init, no RBAC).

const KEY = "-----BEGIN PRIVATE KEY-----\nMIIsecretkeymaterial\n-----END PRIVATE KEY-----";
let d: KubeDeployment;
test.before(async () => {
  d = await deployKube(
    {
      couchdb: { url: "https://couch.internal:6984" },
      redis: { name: "oose", external: { sentinels: [{ host: "sentinel.internal", port: 26379 }] } },
      stores: [
        { name: "store1", prism: "prism1", zone: "zone-a" },
        { name: "store2", prism: "prism1", zone: "zone-b" },
        { name: "store3", prism: "prism2", zone: "zone-a" },
      ],
      kubernetes: { namespace: "cdn", expose: "nginx", serviceType: "LoadBalancer" },
    },
    {
      couchdbPassword: "existing-couch-password",
      redisPassword: "existing-redis-password",
      tlsCert: "-----BEGIN CERTIFICATE-----\nMIIcert\n-----END CERTIFICATE-----",
      tlsKey: KEY,
    },
  );
});

const names = (kind: string) => byKind(d, kind).map((o) => (plain(o.inputs.metadata) as { name?: string }).name);

test("nothing of CouchDB or Redis is deployed; the pods are pointed at the existing ones", (t) => {
  t.deepEqual(names("StatefulSet").sort(), ["oose-store1", "oose-store2", "oose-store3"]);
  t.deepEqual(
    byKind(d, "Job").map((j) => j.name),
    ["migrate-job"],
  );
  type Pod = { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
  const prism = byKind(d, "Deployment").find((o) => o.name === "prism1-deployment")!;
  const env = (plain(prism.inputs.spec) as Pod).template.spec.containers[0]!.env;
  const value = (n: string) => env.find((e) => e.name === n)?.value;
  t.is(value("OOSE_COUCHDB__URL"), "https://couch.internal:6984");
  t.is(value("OOSE_REDIS__SENTINELS"), JSON.stringify([{ host: "sentinel.internal", port: 26379 }]));
});

test("the front nginx and every store nginx face end users over TLS through Services of their own", (t) => {
  t.true(names("Deployment").includes("oose-front"));
  t.deepEqual(names("Ingress"), []);
  const publicServices = byKind(d, "Service")
    .map((s) => plain(s.inputs) as { metadata: { name: string }; spec: { type?: string; ports: { port: number }[] } })
    .filter((s) => s.spec.type === "LoadBalancer");
  t.deepEqual(publicServices.map((s) => s.metadata.name).sort(), [
    "oose-front",
    "oose-store1-public",
    "oose-store2-public",
    "oose-store3-public",
  ]);
  for (const s of publicServices) t.is(s.spec.ports[0]!.port, 443);
  t.deepEqual(names("ServiceAccount"), [], "no zone init: every zone is in the config");
});

test("these manifests are valid too, and the TLS key is only in its Secret", (t) => {
  const docs = d.objects.map(manifest).filter((m) => m !== undefined);
  const yaml = docs.map((m) => stringify(m)).join("---\n");
  t.deepEqual(
    parseAllDocuments(yaml).flatMap((doc) => schemaErrors(doc.toJS())),
    [],
  );
  const holders = d.objects.filter(
    (o) => manifest(o) && JSON.stringify(plain(o.inputs)).includes("MIIsecretkeymaterial"),
  );
  t.deepEqual(
    holders.map((o) => `${o.type} ${o.name}`),
    ["kubernetes:core/v1:Secret tls-secret"],
  );
  const clusterWide = ["Namespace", "ClusterRole", "ClusterRoleBinding"];
  for (const m of docs)
    if (!clusterWide.includes(String(m.kind))) t.is((m.metadata as { namespace?: string }).namespace, "cdn");
});

import test from "ava";
import { loadConfig } from "../../app/config.js";
import { plain } from "./harness.js";
import { appContainers, container, containers, envOf, invariantTests, portsOf } from "./invariants.js";

// Pulumi.example-3hosts.yaml: three Docker hosts, secrets (and TLS) given as secret config.

const PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBtestcertificate\n-----END CERTIFICATE-----\n";
const PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEtestprivatekey\n-----END PRIVATE KEY-----\n";
const deployment = invariantTests("Pulumi.example-3hosts.yaml", {
  couchdbPassword: "couch-admin-pass-1",
  prismPassword: "prism-basic-pass-1",
  storePassword: "store-basic-pass-1",
  signingKey: "signing-key-0123456789abcdef",
  redisPassword: "redis-auth-pass-1",
  tlsCert: PEM_CERT,
  tlsKey: PEM_KEY,
});
const ADDRESS: Record<string, string> = { node1: "10.0.0.11", node2: "10.0.0.12", node3: "10.0.0.13" };

test("the Sentinels run on at least 2 distinct hosts", (t) => {
  const sentinels = containers(deployment()).filter((c) => /^redis-sentinel\d+$/.test(c.name));
  t.is(sentinels.length, 3);
  t.true(new Set(sentinels.map((c) => c.host)).size >= 2);
});

test("the CouchDB cluster's nodes run on distinct hosts and publish the Erlang ports", (t) => {
  const nodes = containers(deployment()).filter((c) => /^couchdb-couchdb\d+$/.test(c.name));
  t.is(nodes.length, 3);
  t.is(new Set(nodes.map((c) => c.host)).size, 3);
  for (const c of nodes) {
    t.deepEqual(
      portsOf(c)
        .map((p) => p.internal)
        .sort(),
      [4369, 5984, 6984, 9100],
    );
    t.is(envOf(c).NODENAME, ADDRESS[c.host!]);
  }
});

test("across hosts, nodes advertise their host address and published port", (t) => {
  for (const c of appContainers(deployment())) {
    const config = loadConfig(envOf(c));
    const published = portsOf(c).find((p) => p.internal === config.listen.port)?.external;
    t.is(config.advertiseUrl, `https://${ADDRESS[c.host!]}:${published}`);
    t.true(config.couchdb.url.startsWith(`https://${ADDRESS[c.host!]}:`), "the CouchDB node on the same host");
    t.is(config.redis.sentinels?.length, 3);
  }
});

test("the second store on a host gets the next port", (t) => {
  const d = deployment();
  t.deepEqual(portsOf(container(d, "store2-app")), [{ internal: 5972, external: 5972, ip: "10.0.0.12" }]);
  t.deepEqual(portsOf(container(d, "store4-app")), [{ internal: 5972, external: 5973, ip: "10.0.0.12" }]);
  t.is(d.cluster.storeUrls.store4, "https://store4.cdn.example.com:8444");
});

test("TLS: the front and store nginxes get the certificate, the key only as a secret", (t) => {
  const d = deployment();
  t.is(d.cluster.frontUrl, "https://cdn.example.com");
  for (const name of ["front-nginx", "store1-nginx"]) {
    const uploads = plain(container(d, name).inputs.uploads) as { file: string; content: string }[];
    const conf = uploads.find((u) => u.file === "/etc/oose/nginx.conf")!.content;
    t.regex(conf, /listen 0\.0\.0\.0:8443 ssl/);
    t.is(uploads.find((u) => u.file === "/etc/oose/tls/key.pem")?.content, PEM_KEY);
  }
});

test("given secrets are used as they are", (t) => {
  const env = envOf(container(deployment(), "prism1-app"));
  t.is(env.OOSE_AUTH__PRISM__PASSWORD, "prism-basic-pass-1");
  t.is(env.OOSE_SIGNING_KEY, "signing-key-0123456789abcdef");
  const sentinel = plain(container(deployment(), "redis-sentinel1").inputs.uploads) as { content: string }[];
  t.regex(sentinel[0]!.content, /sentinel auth-pass oose redis-auth-pass-1/);
});

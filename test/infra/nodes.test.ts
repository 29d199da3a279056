import { X509Certificate } from "node:crypto";
import * as settings from "@pulumi/pulumi/runtime/settings.js";
import test from "ava";
import { loadConfig } from "../../app/config.js";
import { StackConfigError } from "../../infra/config.js";
import { type Deployment, deploy, isSecretValue, plain, type Recorded, stackConfig } from "./harness.js";
import { appContainers, container, containers, envOf, portsOf, volumesOf } from "./invariants.js";
import { optionsOf } from "./options.js";

// The node hops of both example stacks: HTTPS between nodes with certificates
// from the cluster CA (the front verifies the prisms), ports bound to each
// host's bindAddress, protected volumes, host-path stores, liveness health
// checks, nginx health checks, and no log driver unless the stack sets one.

const FILES = ["Pulumi.example.yaml", "Pulumi.example-3hosts.yaml"];
const LIVENESS = ["CMD", "node", "dist/app/livez.js"];

interface Upload {
  file: string;
  content: unknown;
  group?: string;
  permissions?: string;
}

const drained = () => (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
/** Serial tests only: one deployment at a time, each example's as written deployed once. */
const asWritten = new Map<string, Deployment>();
async function deployed(file: string, stack: Record<string, unknown> = {}): Promise<Deployment> {
  const plain = Object.keys(stack).length === 0;
  if (plain && asWritten.has(file)) return asWritten.get(file)!;
  const d = await deploy(file, {}, stack);
  await drained();
  if (plain) asWritten.set(file, d);
  return d;
}
const uploadsOf = (c: Recorded) => plain(c.inputs.uploads ?? []) as Upload[];
const uploaded = (c: Recorded, file: string) => {
  const u = uploadsOf(c).find((x) => x.file === file);
  if (!u) throw new Error(`${c.name} has no upload ${file}`);
  return String(u.content);
};
const hostsOf = (file: string) =>
  JSON.parse(stackConfig(file)["oose:hosts"]!) as { name: string; address: string; bindAddress?: string }[];
const healthOf = (c: Recorded) => plain(c.inputs.healthcheck) as { tests: string[] } | undefined;
const nginxes = (d: Deployment) => containers(d).filter((c) => c.name.endsWith("-nginx"));

for (const file of FILES) {
  test.serial(
    `${file}: every prism and store URL is https, with a certificate the cluster CA issued for it`,
    async (t) => {
      const d = await deployed(file);
      t.true(Object.values(d.cluster.prismUrls).every((u) => u.startsWith("https://")));
      for (const c of appContainers(d)) {
        const config = loadConfig(envOf(c));
        const url = new URL(config.advertiseUrl);
        t.is(url.protocol, "https:", c.name);
        t.deepEqual(config.tls, {
          cert: "/etc/oose/tls/node.crt",
          key: "/etc/oose/tls/node.key",
          ca: "/etc/oose/tls/ca.crt",
        });
        const ca = new X509Certificate(uploaded(c, "/etc/oose/tls/ca.crt"));
        const cert = new X509Certificate(uploaded(c, "/etc/oose/tls/node.crt"));
        t.true(cert.verify(ca.publicKey), `${c.name}: signed by the cluster CA`);
        t.truthy(
          /^[\d.]+$/.test(url.hostname) ? cert.checkIP(url.hostname) : cert.checkHost(url.hostname),
          `${c.name}: valid for ${url.hostname}`,
        );
        t.truthy(cert.checkIP("127.0.0.1"), `${c.name}: valid for its own health check`);
        // The key is secret, alone or with the whole list; the leak test covers every key's value.
        const raw = c.inputs.uploads;
        const key = (isSecretValue(raw) ? (raw.value as Upload[]) : (raw as Upload[])).find((u) =>
          u.file.endsWith(".key"),
        )!;
        t.true(isSecretValue(raw) || isSecretValue(key.content), `${c.name}: the key is a secret`);
        t.is(key.permissions, "0440");
        // Every peer URL a node is given is https too.
        for (const [k, v] of Object.entries(envOf(c)))
          if (/^OOSE_(ADVERTISE_URL)$/.test(k)) t.true(v.startsWith("https://"), `${c.name} ${k}`);
      }
      const front = container(d, "front-nginx");
      const conf = uploaded(front, "/etc/oose/nginx.conf");
      t.regex(conf, /proxy_pass https:\/\/prisms;/);
      t.regex(conf, /proxy_ssl_verify on;/);
      t.regex(conf, /proxy_ssl_trusted_certificate \/etc\/oose\/tls\/ca\.crt;/);
      const prismCert = new X509Certificate(uploaded(container(d, "prism1-app"), "/etc/oose/tls/node.crt"));
      const name = /proxy_ssl_name ([^;]+);/.exec(conf)![1]!;
      t.truthy(prismCert.checkHost(name), `prism certificates carry ${name}`);
      t.is(uploaded(front, "/etc/oose/tls/ca.crt"), uploaded(container(d, "prism1-app"), "/etc/oose/tls/ca.crt"));
    },
  );

  test.serial(`${file}: published ports bind to the host's address, never 0.0.0.0`, async (t) => {
    const d = await deployed(file);
    const hosts = hostsOf(file);
    let published = 0;
    for (const c of containers(d))
      for (const p of portsOf(c)) {
        published++;
        const host = hosts.find((h) => h.name === c.host)!;
        t.is(p.ip, host.bindAddress ?? host.address, `${c.name} ${p.internal}`);
      }
    t.true(published > 0);
  });

  test.serial(`${file}: store, CouchDB, Redis and Sentinel volumes are protected and kept by destroy`, async (t) => {
    const d = await deployed(file);
    const volumes = d.resources.filter(
      (r) => r.type === "docker:index/volume:Volume" && /^(store\d+-|couchdb-couchdb\d+-|redis-)/.test(r.name),
    );
    t.is(volumes.filter((v) => v.name.startsWith("store")).length, 8);
    t.true(
      volumes.some((v) => v.name.startsWith("couchdb-")) && volumes.some((v) => v.name.startsWith("redis-sentinel")),
    );
    for (const v of volumes) t.like(optionsOf(v.type, v.name), { protect: true, retainOnDelete: true }, v.name);
  });

  test.serial(`${file}: health checks are liveness for the apps, and every nginx has one`, async (t) => {
    const d = await deployed(file);
    for (const c of appContainers(d)) t.deepEqual(healthOf(c)?.tests, LIVENESS, c.name);
    const all = nginxes(d);
    t.true(all.length > 1);
    for (const c of all) {
      t.deepEqual(healthOf(c)?.tests, ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8099/livez"], c.name);
      t.regex(uploaded(c, "/etc/oose/nginx.conf"), /listen 127\.0\.0\.1:8099;\s+access_log off;\s+location = \/livez/);
      t.true(c.inputs.wait === true, `${c.name} waits for its health`);
    }
  });

  test.serial(`${file}: no container sets a log driver unless the stack does`, async (t) => {
    const d = await deployed(file);
    for (const c of containers(d)) {
      t.is(c.inputs.logDriver, undefined, c.name);
      t.is(c.inputs.logOpts, undefined, c.name);
    }
  });
}

test.serial("a configured log driver and bind address apply to every container", async (t) => {
  const file = "Pulumi.example-3hosts.yaml";
  const hosts = hostsOf(file).map((h) => ({ ...h, bindAddress: "0.0.0.0" }));
  const logging = { driver: "json-file", options: { "max-size": "10m", "max-file": "5" } };
  const d = await deployed(file, { hosts, logging });
  for (const c of containers(d)) {
    t.is(c.inputs.logDriver, "json-file", c.name);
    t.deepEqual(c.inputs.logOpts, logging.options, c.name);
    for (const p of portsOf(c)) t.is(p.ip, "0.0.0.0", c.name);
  }
});

test.serial("a store on a host path mounts that path in its app and nginx, with no data volume", async (t) => {
  const d = await deployed("Pulumi.example.yaml", { storage: { store2: { hostPath: "/srv/disk2" } } });
  t.deepEqual(volumesOf(container(d, "store2-app"))[0], { hostPath: "/srv/disk2", containerPath: "/data" });
  t.deepEqual(volumesOf(container(d, "store2-nginx"))[0], {
    hostPath: "/srv/disk2",
    containerPath: "/data",
    readOnly: true,
  });
  const names = d.resources.filter((r) => r.type === "docker:index/volume:Volume").map((r) => r.inputs.name);
  t.false(names.includes("oose-store2-data"));
  t.true(names.includes("oose-store1-data") && names.includes("oose-store2-logs"));
});

test.serial("a kept volume name and a renamed store keep their state: aliases, no new volume", async (t) => {
  const d = await deployed("Pulumi.example.yaml", {
    storage: { store2: { volume: "old-store2-data", renamedFrom: "disk2" } },
  });
  t.is(volumesOf(container(d, "store2-app"))[0]?.volumeName, "old-store2-data");
  const component = optionsOf("oose:index:StoreNode", "store2");
  t.true(
    component?.aliases.some((a) => a.includes("disk2")),
    JSON.stringify(component?.aliases),
  );
});

test.serial("stack checks: a host named by DNS needs a bindAddress; storage names real stores", async (t) => {
  const { parseStackConfig } = await import("../../infra/config.js");
  const raw = (file: string) =>
    Object.fromEntries(
      Object.entries(stackConfig(file)).map(([k, v]) => {
        const key = k.slice("oose:".length);
        try {
          return [key, JSON.parse(v)];
        } catch {
          return [key, v];
        }
      }),
    );
  const base = raw("Pulumi.example-3hosts.yaml");
  const hosts = (base.hosts as { address: string }[]).map((h, i) => (i === 0 ? { ...h, address: "node1.lan" } : h));
  const err = t.throws(
    () =>
      parseStackConfig({
        ...base,
        hosts,
        storage: { nostore: { hostPath: "/srv/x" }, store1: { hostPath: "/srv/a", volume: "v" } },
      }),
    { instanceOf: StackConfigError },
  );
  t.true(err.problems.some((p) => /hosts node1: address node1\.lan is a name; set bindAddress/.test(p)));
  t.true(err.problems.includes("storage.nostore: no such store"));
  t.true(err.problems.includes("storage.store1: set hostPath or volume, not both"));
});

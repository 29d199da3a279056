import * as pulumi from "@pulumi/pulumi";
import test from "ava";
import { loadConfig } from "../../app/config.js";
import { SECRET_ENV } from "../../app/topology/env.js";
import { type Deployment, deploy, isSecretValue, plain, type Recorded, settle, stackConfig } from "./harness.js";

// Invariants every rendered cluster keeps, whatever its shape. Each example
// stack's test file registers these, then adds what is specific to its shape.

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";

export interface Volume {
  volumeName?: string;
  containerPath?: string;
  readOnly?: boolean;
}

export const containers = (d: Deployment) => d.resources.filter((r) => r.type === CONTAINER);
export const container = (d: Deployment, name: string) => {
  const c = containers(d).find((r) => r.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
};
export const envOf = (c: Recorded): Record<string, string> =>
  Object.fromEntries(
    (plain(c.inputs.envs) as string[]).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
export const volumesOf = (c: Recorded) => (plain(c.inputs.volumes) ?? []) as Volume[];
export const portsOf = (c: Recorded) =>
  (plain(c.inputs.ports) ?? []) as { internal: number; external?: number; ip?: string }[];
const label = (c: Recorded, key: string) =>
  ((plain(c.inputs.labels) ?? []) as { label: string; value: string }[]).find((l) => l.label === key)?.value;
const isSecret = async (o: pulumi.Output<unknown>) =>
  pulumi.Output.isInstance(o) && (await (o as unknown as { isSecret: Promise<boolean> }).isSecret);
/** Prism and store app containers. */
export const appContainers = (d: Deployment) => containers(d).filter((c) => label(c, "oose.role"));

interface Example {
  prefix?: string;
  hosts: { name: string; address: string }[];
  address(host: string): string | undefined;
  stores: { name: string; host: string }[];
  prisms: { name: string; host: string }[];
}

export function example(file: string): Example {
  const cfg = stackConfig(file);
  const hosts = JSON.parse(cfg["oose:hosts"]!) as Example["hosts"];
  return {
    prefix: cfg["oose:prefix"],
    hosts,
    address: (host) => hosts.find((h) => h.name === host)?.address,
    stores: JSON.parse(cfg["oose:stores"]!),
    prisms: JSON.parse(cfg["oose:prisms"]!),
  };
}

const strings = (v: unknown): string[] =>
  typeof v === "string" ? [v] : typeof v === "object" && v !== null ? Object.values(v).flatMap(strings) : [];

/** Every place a secret value shows up outside a secret wrapper. */
function plainSecrets(v: unknown, secrets: string[], at: string, out: string[]): void {
  if (isSecretValue(v)) return;
  if (typeof v === "string") {
    if (secrets.some((s) => v.includes(s))) out.push(at);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => {
      plainSecrets(x, secrets, `${at}[${i}]`, out);
    });
  } else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) plainSecrets(x, secrets, `${at}.${k}`, out);
  }
}

export function invariantTests(file: string, secrets?: Record<string, string>): () => Deployment {
  let d: Deployment;
  const ex = example(file);
  const prefix = ex.prefix ?? "oose";
  test.before(async () => {
    d = await deploy(file, secrets);
  });

  test("every store has exactly one data volume, mounted read-write by its app and read-only by its nginx", (t) => {
    for (const s of ex.stores) {
      const volumeName = `${prefix}-${s.name}-data`;
      const logs = { volumeName: `${prefix}-${s.name}-logs`, containerPath: "/var/log/oose" };
      t.is(d.resources.filter((r) => r.type === VOLUME && r.inputs.name === volumeName).length, 1, s.name);
      t.deepEqual(volumesOf(container(d, `${s.name}-app`)), [{ volumeName, containerPath: "/data" }, logs]);
      t.deepEqual(volumesOf(container(d, `${s.name}-nginx`)), [
        { volumeName, containerPath: "/data", readOnly: true },
        logs,
      ]);
      const users = containers(d).filter((c) => volumesOf(c).some((v) => v.volumeName === volumeName));
      t.deepEqual(users.map((c) => c.name).sort(), [`${s.name}-app`, `${s.name}-nginx`]);
    }
  });

  test("every store has a logs volume its nginx writes the access log into and its app reads", (t) => {
    for (const s of ex.stores) {
      const volumeName = `${prefix}-${s.name}-logs`;
      t.is(d.resources.filter((r) => r.type === VOLUME && r.inputs.name === volumeName).length, 1, s.name);
      const users = containers(d).filter((c) => volumesOf(c).some((v) => v.volumeName === volumeName));
      t.deepEqual(users.map((c) => c.name).sort(), [`${s.name}-app`, `${s.name}-nginx`]);
      for (const c of users) {
        const mount = volumesOf(c).find((v) => v.volumeName === volumeName)!;
        t.falsy(mount.readOnly, `${c.name} writes its logs volume`);
        t.is(mount.containerPath, "/var/log/oose", c.name);
      }
      const app = container(d, `${s.name}-app`);
      t.is(loadConfig(envOf(app)).accessLog.dir, "/var/log/oose", s.name);
      const conf = (plain(container(d, `${s.name}-nginx`).inputs.uploads) as { file: string; content: string }[]).find(
        (u) => u.file === "/etc/oose/nginx.conf",
      )!.content;
      t.regex(conf, /access_log "\/var\/log\/oose\/access-\$oose_log_day\.log" oose_json;/, s.name);
    }
  });

  test("no secret value appears in plain text in any resource input", (t) => {
    // Not vacuous: every secret is used somewhere, once unwrapped.
    const all = d.resources.flatMap((r) => strings(plain(r.inputs)));
    t.true(d.secretValues.length >= 5);
    for (const s of d.secretValues)
      t.true(
        all.some((v) => v.includes(s)),
        `secret ${s.slice(0, 4)}… is used`,
      );
    const leaks: string[] = [];
    for (const r of d.resources) plainSecrets(r.inputs, d.secretValues, `${r.name}`, leaks);
    t.deepEqual(leaks, []);
  });

  test("container env is secret as a whole and app env carries every secret variable", (t) => {
    for (const c of containers(d).filter((x) => x.inputs.envs !== undefined)) {
      const holdsSecret = d.secretValues.some((s) => JSON.stringify(plain(c.inputs.envs)).includes(s));
      if (holdsSecret) t.true(isSecretValue(c.inputs.envs), c.name);
    }
    for (const c of appContainers(d)) {
      t.true(isSecretValue(c.inputs.envs), c.name);
      const env = envOf(c);
      for (const key of SECRET_ENV) t.truthy(env[key], `${c.name} ${key}`);
    }
  });

  test("stack outputs: credentials are secret, URLs are plain and hold no secret", async (t) => {
    const c = d.cluster;
    t.true(await isSecret(c.credentials));
    const creds = await settle(c.credentials);
    t.truthy(creds.prism.password);
    const urls = JSON.stringify([c.frontUrl, c.prismUrls, c.storeUrls]);
    t.false(d.secretValues.some((s) => urls.includes(s)));
    t.deepEqual(Object.keys(c.storeUrls).sort(), ex.stores.map((s) => s.name).sort());
    t.deepEqual(Object.keys(c.prismUrls).sort(), ex.prisms.map((p) => p.name).sort());
  });

  test("each node's env passes the app's loadConfig and matches its node", (t) => {
    const nodes = [
      ...ex.prisms.map((p) => ({ ...p, role: "prism" })),
      ...ex.stores.map((s) => ({ ...s, role: "store" })),
    ];
    t.is(appContainers(d).length, nodes.length);
    for (const n of nodes) {
      const c = container(d, `${n.name}-app`);
      const config = loadConfig(envOf(c));
      t.is(config.role as string, n.role);
      t.is(config.name, n.name);
      t.is(config.listen.host, "0.0.0.0");
      t.false(config.advertiseUrl.includes("0.0.0.0"));
      t.is(c.host, n.host, `${n.name} runs on its host`);
    }
    t.notThrows(() => loadConfig(envOf(container(d, "migrate-job"))));
  });

  // Registration order under mocks says nothing of the engine's; the dependencies it is told do.
  test("CouchDB and Redis, then the migration job, come before every app container", (t) => {
    const setup = container(d, "couchdb-setup");
    const migrate = container(d, "migrate-job");
    t.deepEqual(plain(migrate.inputs.command), ["node", "bin/oose.js", "migrate", "up"]);
    const couchNodes = containers(d).filter((x) => /^couchdb-couchdb\d+$/.test(x.name));
    const redisNodes = containers(d).filter((x) => x.name.startsWith("redis-"));
    t.true(redisNodes.length > 0 && couchNodes.length > 0);
    for (const c of couchNodes) t.true(setup.dependsOn.includes(c.name), `setup after ${c.name}`);
    t.true(migrate.dependsOn.includes(setup.name), "migration after the CouchDB setup");
    for (const c of redisNodes) t.true(migrate.dependsOn.includes(c.name), `migration after ${c.name}`);
    for (const app of appContainers(d)) {
      for (const c of [migrate, ...redisNodes]) t.true(app.dependsOn.includes(c.name), `${app.name} after ${c.name}`);
    }
    for (const s of ex.stores) t.true(container(d, `${s.name}-nginx`).dependsOn.includes(`${s.name}-app`));
    for (const p of ex.prisms) t.true(container(d, "front-nginx").dependsOn.includes(`${p.name}-app`));
  });

  test("each store advertises how the other containers reach its nginx", (t) => {
    for (const s of ex.stores) {
      const url = new URL(envOf(container(d, `${s.name}-app`)).OOSE_NGINX_URL ?? "");
      const nginx = container(d, `${s.name}-nginx`);
      const [port] = portsOf(nginx);
      const byName = url.hostname === plain(nginx.inputs.name) && Number(url.port) === port?.internal;
      const byHost = url.hostname === ex.address(s.host) && Number(url.port) === port?.external;
      t.true(ex.hosts.length > 1 ? byHost : byName, `${s.name}: ${url.href}`);
    }
  });

  test("every Docker resource names its host's provider", (t) => {
    const docker = d.resources.filter((r) => r.type.startsWith("docker:index/"));
    t.true(docker.length > 0);
    t.deepEqual(
      docker.filter((r) => !r.host).map((r) => r.name),
      [],
    );
  });

  test("output URLs: store public URLs are <store>.<domain>", (t) => {
    const domain = stackConfig(file)["oose:domain"]!;
    for (const [name, url] of Object.entries(d.cluster.storeUrls)) {
      t.regex(url, new RegExp(`^https?://${name}\\.${domain.replaceAll(".", "\\.")}(:\\d+)?$`));
    }
  });

  return () => d;
}

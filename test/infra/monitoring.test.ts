import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings.js";
import test from "ava";
import { parse } from "yaml";
import { loadConfig } from "../../app/config.js";
import { parseStackConfig, StackConfigError } from "../../infra/config.js";
import { type Deployment, deploy, isSecretValue, plain, ROOT, settle, stackConfig } from "./harness.js";
import { appContainers, container, containers, envOf, portsOf, volumesOf } from "./invariants.js";

// Prometheus and Grafana exist only when the stack enables them; then the
// rules and dashboard are uploaded read-only, the scrape config names every
// node by the address the other containers use, and passwords are secrets.

interface Upload {
  file: string;
  content: unknown;
  owner?: string;
  group?: string;
  permissions?: string;
}
interface ScrapeConfig {
  job_name: string;
  scheme: string;
  basic_auth: { username: string; password_file: string };
  static_configs: { targets: string[]; labels: { instance: string } }[];
}

const repoFile = (file: string) => readFileSync(new URL(file, ROOT), "utf8");
const uploadsOf = (d: Deployment, name: string) => (plain(container(d, name).inputs.uploads) ?? []) as Upload[];
const upload = (d: Deployment, name: string, file: string) => {
  const u = uploadsOf(d, name).find((x) => x.file === file);
  if (!u) throw new Error(`${name} has no upload ${file}`);
  return u;
};
const isMonitoring = (name: string) => /prometheus|grafana/.test(name);

/**
 * The program's every call to the (mock) engine has been answered, so the next deployment in this file
 * starts clean. Internal to the SDK, hence the cast.
 */
const drained = () => (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();

/** Deploys with monitoring enabled; the harness does not wait for its containers, so this does. */
async function deployMonitored(file: string, monitoring: Record<string, unknown> = {}): Promise<Deployment> {
  const d = await deploy(file, {}, { monitoring: { enabled: true, ...monitoring } });
  const m = d.cluster.resources.monitoring;
  if (!m) throw new Error("monitoring was not created");
  await settle(pulumi.all([m.prometheus.id, m.grafana.id]));
  await drained();
  return d;
}

/** Every place a secret value shows up outside a secret wrapper. */
function leaks(v: unknown, secrets: string[], at: string, out: string[]): string[] {
  if (isSecretValue(v)) return out;
  if (typeof v === "string" && secrets.some((s) => v.includes(s))) out.push(at);
  else if (Array.isArray(v)) for (const [i, x] of v.entries()) leaks(x, secrets, `${at}[${i}]`, out);
  else if (typeof v === "object" && v !== null)
    for (const [k, x] of Object.entries(v)) leaks(x, secrets, `${at}.${k}`, out);
  return out;
}

for (const file of ["Pulumi.example.yaml", "Pulumi.example-3hosts.yaml"]) {
  test.serial(`${file} as it is: no Prometheus, no Grafana`, async (t) => {
    const d = await deploy(file);
    await drained();
    t.true(containers(d).length > 0);
    t.deepEqual(
      d.resources
        .filter((r) => isMonitoring(r.name) || isMonitoring(String(plain(r.inputs.name) ?? "")))
        .map((r) => r.name),
      [],
    );
    t.is(d.cluster.resources.monitoring, undefined);
    t.false("grafana" in (await settle(d.cluster.credentials)));
  });
}

test.serial("one host: Prometheus and Grafana with the rules, the dashboard and every node", async (t) => {
  const d = await deployMonitored("Pulumi.example.yaml");
  const prom = container(d, "monitoring-prometheus");
  const grafana = container(d, "monitoring-grafana");
  t.is(plain(prom.inputs.name), "oose-prometheus");
  t.is(prom.host, "local");
  t.is(grafana.host, "local");
  t.deepEqual(portsOf(prom), [{ internal: 9090, external: 9090, ip: "127.0.0.1" }] as never);
  t.deepEqual(portsOf(grafana), [{ internal: 3000, external: 3000, ip: "127.0.0.1" }] as never);
  t.deepEqual(volumesOf(prom), [{ volumeName: "oose-prometheus-data", containerPath: "/prometheus" }]);
  t.deepEqual(volumesOf(grafana), [{ volumeName: "oose-grafana-data", containerPath: "/var/lib/grafana" }]);
  for (const c of [prom, grafana])
    t.deepEqual(
      (plain(c.inputs.networksAdvanced) as { name: string }[]).map((n) => n.name),
      ["oose"],
    );

  // The same rules and dashboard as the repository's, read-only for the container's user.
  t.is(upload(d, "monitoring-prometheus", "/etc/prometheus/rules.yml").content, repoFile("monitoring/rules.yml"));
  t.is(
    upload(d, "monitoring-grafana", "/etc/grafana/dashboards/oose.json").content,
    repoFile("monitoring/dashboard.json"),
  );
  for (const name of ["monitoring-prometheus", "monitoring-grafana"]) {
    const uploads = uploadsOf(d, name);
    t.true(uploads.length >= 4, name);
    for (const u of uploads) {
      t.is(u.owner, "0", `${name} ${u.file}`);
      t.regex(u.permissions ?? "", /^0[0-7][0-5][0-4]$/, `${name} ${u.file}`);
      t.is(Number.parseInt(u.permissions!, 8) & 0o222, 0, `${name} ${u.file} is not writable`);
    }
  }

  // Every node, by the name and port the other containers use, instance = node name, the role's user.
  const config = parse(String(upload(d, "monitoring-prometheus", "/etc/prometheus/prometheus.yml").content)) as {
    rule_files: string[];
    scrape_configs: ScrapeConfig[];
  };
  t.deepEqual(config.rule_files, ["/etc/prometheus/rules.yml"]);
  t.deepEqual(
    config.scrape_configs.map((j) => j.job_name),
    ["oose-prism", "oose-store"],
  );
  const creds = await settle(d.cluster.credentials);
  const apps = appContainers(d);
  t.is(apps.length, 6);
  for (const app of apps) {
    const node = loadConfig(envOf(app));
    const job = config.scrape_configs.find((j) => j.job_name === `oose-${node.role}`)!;
    const target = job.static_configs.find((s) => s.labels.instance === node.name);
    const advertised = new URL(node.advertiseUrl);
    t.deepEqual(target?.targets, [advertised.host], node.name);
    t.is(job.scheme, advertised.protocol.replace(":", ""));
    t.is(job.basic_auth.username, node.role === "prism" ? creds.prism.username : creds.store.username);
    // The password file is an upload holding that role's password.
    const pw = upload(d, "monitoring-prometheus", job.basic_auth.password_file);
    t.is(pw.content, node.role === "prism" ? creds.prism.password : creds.store.password);
  }
  t.is(config.scrape_configs.flatMap((j) => j.static_configs).length, apps.length, "no node twice, none extra");

  // Grafana: Prometheus and the dashboard provisioned, the admin password generated and secret.
  const ds = parse(String(upload(d, "monitoring-grafana", "/etc/grafana/provisioning/datasources/oose.yml").content));
  t.like(ds.datasources[0], { type: "prometheus", url: "http://oose-prometheus:9090", editable: false });
  const dash = parse(String(upload(d, "monitoring-grafana", "/etc/grafana/provisioning/dashboards/oose.yml").content));
  t.like(dash.providers[0], { allowUiUpdates: false, options: { path: "/etc/grafana/dashboards" } });
  const admin = upload(d, "monitoring-grafana", "/etc/grafana/secrets/admin-password");
  t.truthy(creds.grafana?.password);
  t.is(admin.content, creds.grafana?.password);
  t.true(
    (plain(grafana.inputs.envs) as string[]).includes(
      "GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/secrets/admin-password",
    ),
  );

  // Credentials only as secrets, anywhere in the program: the uploads holding them are secret as a whole.
  for (const c of [prom, grafana]) t.true(isSecretValue(c.inputs.uploads), c.name);
  const secrets = [...d.secretValues, creds.prism.password, creds.store.password, creds.grafana!.password];
  t.deepEqual(
    d.resources.flatMap((r) => leaks(r.inputs, secrets, r.name, [])),
    [],
  );
  t.false(JSON.stringify(plain(prom.inputs.command)).includes(creds.prism.password), "no password on the command line");
});

test.serial("three hosts: Prometheus on the chosen host scrapes each node at its host's address", async (t) => {
  const d = await deployMonitored("Pulumi.example-3hosts.yaml", { host: "node2", bindAddress: "0.0.0.0" });
  const prom = container(d, "monitoring-prometheus");
  t.is(prom.host, "node2");
  t.is(container(d, "monitoring-grafana").host, "node2");
  t.deepEqual(portsOf(prom), [{ internal: 9090, external: 9090, ip: "0.0.0.0" }] as never);
  const config = parse(String(upload(d, "monitoring-prometheus", "/etc/prometheus/prometheus.yml").content)) as {
    scrape_configs: ScrapeConfig[];
  };
  const targets = Object.fromEntries(
    config.scrape_configs.flatMap((j) => j.static_configs.map((s) => [s.labels.instance, s.targets[0]])),
  );
  const ex = stackConfig("Pulumi.example-3hosts.yaml");
  const nodes = [...JSON.parse(ex["oose:prisms"]!), ...JSON.parse(ex["oose:stores"]!)] as { name: string }[];
  t.deepEqual(Object.keys(targets).sort(), nodes.map((n) => n.name).sort());
  for (const app of appContainers(d)) {
    const node = loadConfig(envOf(app));
    t.is(targets[node.name], new URL(node.advertiseUrl).host, node.name);
    t.regex(targets[node.name]!, /^10\.0\.0\.1[123]:\d+$/);
  }
});

/** The example stack as parseStackConfig receives it, with a monitoring block. */
function problems(monitoring: unknown, extra: Record<string, unknown> = {}): string[] {
  const raw = Object.fromEntries(
    Object.entries(stackConfig("Pulumi.example.yaml")).map(([k, v]) => [
      k.slice("oose:".length),
      /^[[{]/.test(v) ? JSON.parse(v) : v,
    ]),
  );
  try {
    parseStackConfig({ ...raw, ...extra, monitoring });
  } catch (err) {
    if (err instanceof StackConfigError) return err.problems;
    throw err;
  }
  return [];
}

test("monitoring config: off by default, pinned images, and every bad value listed at once", (t) => {
  const cfg = parseStackConfig(
    Object.fromEntries(
      Object.entries(stackConfig("Pulumi.example.yaml")).map(([k, v]) => [
        k.slice("oose:".length),
        /^[[{]/.test(v) ? JSON.parse(v) : v,
      ]),
    ),
  );
  t.like(cfg.monitoring, { enabled: false, prometheusPort: 9090, grafanaPort: 3000, bindAddress: "127.0.0.1" });
  t.regex(cfg.images.prometheus, /^prom\/prometheus:v\d+\.\d+\.\d+$/);
  t.regex(cfg.images.grafana, /^grafana\/grafana:\d+\.\d+\.\d+$/);
  t.deepEqual(problems({ enabled: true }), []);

  const list = problems({
    enabled: "sometimes",
    prometheusPort: 70000,
    retention: "two weeks",
    bindAddress: "lo",
    extra: 1,
  });
  for (const key of ["enabled", "prometheusPort", "retention", "bindAddress"])
    t.true(
      list.some((p) => p.startsWith(`monitoring.${key}:`)),
      `${key}: ${list.join("; ")}`,
    );
  t.true(list.includes("monitoring.extra: unknown key"), list.join("; "));
});

test("monitoring config: an unknown host, and ports the cluster already publishes, are refused", (t) => {
  t.deepEqual(problems({ enabled: true, host: "elsewhere" }), ["monitoring.host: unknown host elsewhere"]);
  t.deepEqual(problems({ enabled: true, prometheusPort: 8081, grafanaPort: 8000 }), [
    "monitoring.prometheusPort: port 8081 is published by storeNginx store2 on host local",
    "monitoring.grafanaPort: port 8000 is published by front front on host local",
  ]);
  t.deepEqual(problems({ enabled: true, prometheusPort: 3000 }), [
    "monitoring.grafanaPort: port 3000 is published by monitoring.prometheusPort on host local",
  ]);
  t.deepEqual(problems({ enabled: false, prometheusPort: 8081 }), [], "ports of a disabled monitoring are not claimed");
});

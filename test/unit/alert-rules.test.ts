import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { defaultSpec, nodesOf } from "../../app/topology/model.js";
import { localAddressing } from "../../infra/local/addressing.js";
import type { ClusterInfo } from "../../infra/local/cluster.js";
import { ensureClusterPki, pkiPaths } from "../../infra/local/pki.js";
import { freePort, waitFor } from "../../infra/local/proc.js";
import { RULES_FILE, startPrometheus, writeLocalPrometheusConfig } from "../../infra/local/prometheus.js";
import { CATALOG, inCatalog } from "../../monitoring/catalog.js";

// The alert rules, their promtool unit tests, the dashboard and the local
// cluster's Prometheus config, checked with Debian's promtool and prometheus.

const MONITORING = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../monitoring");
const file = (name: string) => path.join(MONITORING, name);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parse(readFileSync(file("rules.yml"), "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap(
  (g) => g.rules,
);

interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync(file("dashboard.json"), "utf8")) as { uid: string; panels: Panel[] };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

const KEYWORDS = new Set(["and", "or", "unless", "offset", "bool"]);
/** The metric names a PromQL expression selects: identifiers left once strings, matchers, ranges and groupings are gone, and not followed by "(" (functions, aggregations). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  return [...bare.matchAll(/\b[a-zA-Z_:][\w:]*\b(?!\s*\()/g)].map((m) => m[0]).filter((n) => !KEYWORDS.has(n));
}

test("the metric-name reader finds selectors and skips functions, labels and groupings", (t) => {
  t.deepEqual(
    metricNames('histogram_quantile(0.99, sum by (le, op) (rate(a_bucket{op="x",le="1"}[5m]))) / b > 16 * 86400'),
    ["a_bucket", "b"],
  );
  t.true(inCatalog("oose_http_request_duration_seconds_bucket"));
  t.false(inCatalog("oose_backend_up_count"), "only histograms have _count");
  t.false(inCatalog("oose_no_such_metric"));
});

test("promtool check rules accepts every rule", async (t) => {
  const res = await execa("promtool", ["check", "rules", file("rules.yml")], { reject: false, all: true });
  t.is(res.exitCode, 0, res.all);
  t.regex(res.all ?? "", new RegExp(`SUCCESS: ${rules.length} rules found`));
});

test("promtool test rules: every unit test passes", async (t) => {
  const res = await execa("promtool", ["test", "rules", file("rules.test.yml")], { reject: false, all: true });
  t.is(res.exitCode, 0, res.all);
  t.regex(res.all ?? "", /SUCCESS/);
  t.notRegex(res.all ?? "", /FAILED/);
});

test("every alert has a severity, a summary and a description, and a unit test in which it fires", (t) => {
  const tests = (
    parse(readFileSync(file("rules.test.yml"), "utf8")) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    }
  ).tests.flatMap((x) => x.alert_rule_test ?? []);
  t.true(rules.length >= 8);
  t.is(new Set(rules.map((r) => r.alert)).size, rules.length, "alert names are unique");
  for (const r of rules) {
    t.true(["critical", "warning"].includes(r.labels?.severity ?? ""), `${r.alert} severity`);
    t.true((r.annotations?.summary ?? "").length > 10, `${r.alert} summary`);
    t.true((r.annotations?.description ?? "").length > 40, `${r.alert} description`);
    t.true(
      tests.some((x) => x.alertname === r.alert && x.exp_alerts.length > 0),
      `${r.alert} fires in rules.test.yml`,
    );
  }
  // The cases the issue names.
  const fileWithoutCopy = rules.find((r) => r.alert === "FileWithoutLiveCopy");
  t.is(fileWithoutCopy?.for, undefined, "a file with no live copy fires at once");
  t.is(rules.find((r) => r.alert === "StoreDown")?.for, "2m");
});

test("the rules and the dashboard query only metrics of the catalog", (t) => {
  const exprs = [...rules.map((r) => [r.alert, r.expr]), ...queries.map((q) => ["dashboard", q])];
  t.true(queries.length > 30);
  const unknown = exprs.flatMap(([where, e]) =>
    metricNames(e!)
      .filter((n) => !inCatalog(n))
      .map((n) => `${where}: ${n}`),
  );
  t.deepEqual(unknown, []);
});

test("the dashboard covers data at risk, delivery, load, backends and heartbeat, and its queries are valid PromQL", async (t) => {
  t.is(dashboard.uid, "oose-cluster");
  const rows = dashboard.panels.filter((p) => p.type === "row").map((p) => p.title);
  for (const row of ["Data at risk", "Delivery", "Load", "Backends", "Heartbeat"]) t.true(rows.includes(row), row);
  for (const p of dashboard.panels.filter((x) => x.type !== "row")) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
    t.is(p.datasource?.uid, "${datasource}", p.title);
    t.true((p.targets ?? []).length > 0, p.title);
  }
  // Every oose metric of the catalog is on the dashboard somewhere.
  const names = new Set(queries.flatMap(metricNames).map((n) => n.replace(/_(bucket|sum|count)$/, "")));
  const missing = Object.keys(CATALOG).filter((m) => m.startsWith("oose_") && !names.has(m));
  t.deepEqual(missing, []);

  // promtool parses each query as a recording rule; Grafana's $__rate_interval becomes a plain range.
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-dashboard-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const recorded = queries.map((q, i) => ({
    record: `dashboard:panel_${i}`,
    expr: q.replaceAll("$__rate_interval", "5m"),
  }));
  writeFileSync(path.join(dir, "dashboard.rules.yml"), stringify({ groups: [{ name: "dashboard", rules: recorded }] }));
  const res = await execa("promtool", ["check", "rules", path.join(dir, "dashboard.rules.yml")], {
    reject: false,
    all: true,
  });
  t.is(res.exitCode, 0, res.all);
});

test("docs/operations.md explains every alert", (t) => {
  const docs = readFileSync(path.join(MONITORING, "../docs/operations.md"), "utf8");
  const section = docs.slice(docs.indexOf("## Monitoring"));
  t.true(section.length > 0 && docs.includes("## Monitoring"));
  for (const r of rules) t.true(section.includes(`\`${r.alert}\``), r.alert);
});

/** A ClusterInfo as startCluster returns it for `spec`, without starting anything. */
function localInfo(dataDir: string, https: boolean): ClusterInfo {
  const spec = defaultSpec(2, 2);
  const tls = https ? pkiPaths(path.join(dataDir, "tls")) : undefined;
  const at = localAddressing(spec, 15970, dataDir, undefined, tls);
  const node = (name: string) => nodesOf(spec).find((n) => n.name === name)!;
  return {
    prisms: spec.prisms.map((p) => ({ name: p.name, url: at.api(node(p.name)).advertiseUrl })),
    stores: spec.stores.map((s) => ({
      name: s.name,
      prism: s.prism,
      zone: s.zone,
      url: at.api(node(s.name)).advertiseUrl,
      public: at.publicUrl(node(s.name))!,
    })),
    front: null,
    ca: tls?.ca ?? null,
    couchdb: at.couchdbUrl,
    redis: { sentinels: [], name: spec.redis.name },
    admin: { username: "admin", password: "admin-secret-1" },
    prismAuth: { username: "prism", password: "prism-secret-1" },
    storeAuth: { username: "store", password: "store-secret-1" },
  };
}

test("npm start -- --metrics: the config names every node, keeps passwords in 0600 files, and passes promtool check config", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-prom-config-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const secure of [true, false]) {
    const info = localInfo(dir, secure);
    const config = writeLocalPrometheusConfig(info, path.join(dir, "prometheus"));
    const text = readFileSync(config, "utf8");
    for (const pw of [info.prismAuth.password, info.storeAuth.password]) t.false(text.includes(pw));
    const parsed = parse(text) as {
      rule_files: string[];
      scrape_configs: {
        job_name: string;
        scheme: string;
        tls_config?: { ca_file: string };
        basic_auth: { username: string; password_file: string };
        static_configs: { targets: string[]; labels: { instance: string } }[];
      }[];
    };
    t.deepEqual(parsed.rule_files, [RULES_FILE]);
    for (const [job, nodes, auth] of [
      ["oose-prism", info.prisms, info.prismAuth],
      ["oose-store", info.stores, info.storeAuth],
    ] as const) {
      const j = parsed.scrape_configs.find((x) => x.job_name === job)!;
      t.is(j.scheme, secure ? "https" : "http");
      t.is(j.tls_config?.ca_file, info.ca ?? undefined);
      t.deepEqual(
        j.static_configs.map((s) => [s.labels.instance, s.targets]),
        nodes.map((n) => [n.name, [new URL(n.url).host]]),
      );
      t.is(j.basic_auth.username, auth.username);
      t.is(readFileSync(j.basic_auth.password_file, "utf8"), auth.password);
      t.is(statSync(j.basic_auth.password_file).mode & 0o777, 0o600);
    }
    const res = await execa("promtool", ["check", "config", config], { reject: false, all: true });
    t.is(res.exitCode, 0, res.all);
    t.regex(res.all ?? "", /SUCCESS: \d+ rules found/, "the rules are loaded from the config");
  }
});

test("the local Prometheus scrapes HTTPS nodes with their role's password, labelled by node name, rules loaded", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-prom-run-"));
  const pki = await ensureClusterPki(path.join(dir, "tls"), ["prism1", "store1"]);
  // Stand-ins for a prism and a store: /metrics behind their own basic auth, on certificates of the cluster CA.
  const node = (name: string, user: string, password: string) => {
    const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    const server = https.createServer(
      { cert: readFileSync(pki.cert(name)), key: readFileSync(pki.key(name)) },
      (req, res) => {
        if (req.headers.authorization !== expected) return void res.writeHead(401).end();
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(`oose_backend_up{backend="redis"} 1\n`);
      },
    );
    return new Promise<https.Server>((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
  };
  const servers = [await node("prism1", "prism", "prism-pw-1"), await node("store1", "store", "store-pw-1")];
  const url = (s: https.Server) => `https://127.0.0.1:${(s.address() as AddressInfo).port}`;
  const info: ClusterInfo = {
    ...localInfo(dir, true),
    prisms: [{ name: "prism1", url: url(servers[0]!) }],
    stores: [{ name: "store1", prism: "prism1", zone: "zone1", url: url(servers[1]!), public: "http://127.0.0.1:1" }],
    ca: pki.ca,
    prismAuth: { username: "prism", password: "prism-pw-1" },
    storeAuth: { username: "store", password: "store-pw-1" },
  };
  const prom = startPrometheus({ info, dataDir: dir, logDir: dir, port: await freePort(), scrapeInterval: "1s" });
  t.teardown(async () => {
    await prom.proc.stop();
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await prom.ready;
  t.false(
    prom.proc.child.spawnargs.some((a) => a.includes("pw-1")),
    "no password on the command line",
  );

  type Target = { labels: Record<string, string>; health: string; lastError: string };
  let targets: Target[] = [];
  await waitFor(
    "both targets scraped",
    async () => {
      const res = await fetch(`${prom.url}/api/v1/targets`);
      targets = ((await res.json()) as { data: { activeTargets: Target[] } }).data.activeTargets;
      return targets.length === 2 && targets.every((x) => x.health !== "unknown");
    },
    30_000,
    250,
  );
  t.deepEqual(targets.map((x) => [x.labels.job, x.labels.instance, x.health, x.lastError]).sort(), [
    ["oose-prism", "prism1", "up", ""],
    ["oose-store", "store1", "up", ""],
  ]);
  const res = await fetch(`${prom.url}/api/v1/rules?type=alert`);
  const loaded = ((await res.json()) as { data: { groups: { rules: { name: string }[] }[] } }).data.groups.flatMap(
    (g) => g.rules.map((r) => r.name),
  );
  t.deepEqual(loaded.sort(), rules.map((r) => r.alert).sort());
});

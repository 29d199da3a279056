import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { defaultSpec } from "../../app/topology/model.js";
import { HOST } from "./addressing.js";
import { type ClusterInfo, type LocalCluster, startCluster } from "./cluster.js";
import { portFree } from "./proc.js";
import { type LocalPrometheus, prometheusPort, startPrometheus } from "./prometheus.js";

// `npm start`: the whole cluster on this machine, in the foreground.
// Ctrl-C (or SIGTERM) stops every process it started, in reverse order.

const int = (min: number, max: number) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
  return n;
};

const opts = new Command("oose-local")
  .description("Run an OOSE cluster as local processes")
  .option("--prisms <n>", "number of prisms", int(1, 30), 2)
  .option("--stores-per-prism <m>", "stores under each prism", int(1, 30), 2)
  .option("--replicas <r>", "copies of each file (default 2, at most the number of stores)", int(1, 60))
  .option("--base-port <p>", "first port of the 100-port block the cluster uses", int(1, 65436), 15970)
  .option("--data <dir>", "data, secrets and logs directory", ".oose")
  .option("--fresh", "wipe the data directory first", false)
  .option("--http", "plain HTTP on the node APIs and the front nginx (default: HTTPS with a cluster CA)", false)
  .option("--metrics", "also run Prometheus (port P+7), scraping every node, with the alert rules", false)
  .parse()
  .opts<{
    prisms: number;
    storesPerPrism: number;
    replicas?: number;
    basePort: number;
    data: string;
    fresh: boolean;
    http: boolean;
    metrics: boolean;
  }>();

function table(info: ClusterInfo, prometheus?: string): string {
  const rows: [string, string][] = [
    ...info.prisms.map((p): [string, string] => [`${p.name} api`, p.url]),
    ...info.stores.flatMap((s): [string, string][] => [
      [`${s.name} api (${s.prism}, ${s.zone})`, s.url],
      [`${s.name} nginx`, s.public],
    ]),
    ["front nginx", info.front ?? "(off)"],
    ["cluster CA", info.ca ?? "(plain HTTP)"],
    ["couchdb", info.couchdb.replace(/\/\/[^@/]*@/, "//***@")],
    ...info.redis.sentinels.map((s, i): [string, string] => [`redis sentinel ${i + 1}`, `${s.host}:${s.port}`]),
    ["redis master name", info.redis.name],
    ...(prometheus ? [["prometheus", prometheus] as [string, string]] : []),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}

/** Installs Prometheus as ensure-deps installs the rest (root: apt; otherwise it prints the command), and checks its port. */
async function prepareMetrics(): Promise<void> {
  const deps = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../scripts/ensure-deps.mjs");
  const res = spawnSync(process.execPath, [deps, "--metrics"], { stdio: "inherit" });
  if (res.status !== 0) process.exit(1);
  const port = prometheusPort(opts.basePort);
  if (!(await portFree(port, HOST)))
    throw new Error(`port ${port} (prometheus) is already in use; stop what holds it or pick another --base-port`);
}

async function main(): Promise<void> {
  if (opts.metrics) await prepareMetrics();
  const dataDir = path.resolve(opts.data);
  const spec = defaultSpec(opts.prisms, opts.storesPerPrism, opts.replicas ?? 2);
  console.log(`Starting OOSE: ${spec.prisms.length} prisms, ${spec.stores.length} stores, ${spec.replicas} replicas…`);
  let cluster: LocalCluster | undefined;
  let prometheus: LocalPrometheus | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping every process…`);
    // During start-up, main() stops whatever came up once startCluster returns.
    if (!cluster) return;
    await prometheus?.proc.stop();
    await cluster.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  try {
    cluster = await startCluster({
      spec,
      basePort: opts.basePort,
      dataDir,
      fresh: opts.fresh,
      http: opts.http,
      logDir: path.join(dataDir, "logs"),
    });
  } catch (err) {
    if (stopping) process.exit(0); // interrupted: startCluster already stopped what it had started
    throw err;
  }
  if (stopping) {
    await cluster.stop();
    process.exit(0);
  }

  const { info } = cluster;
  if (opts.metrics) {
    prometheus = startPrometheus({ info, dataDir, logDir: cluster.logDir, port: prometheusPort(opts.basePort) });
    try {
      await prometheus.ready;
    } catch (err) {
      if (stopping) return; // shutdown() stops everything and exits
      await cluster.stop();
      throw err;
    }
    if (stopping) return;
    const { proc } = prometheus;
    void proc.exited.then((code) => {
      if (!stopping) console.error(`prometheus exited (${code}); the cluster runs on. See ${proc.logFile}`);
    });
  }
  const url = prometheus?.url;
  writeFileSync(
    path.join(dataDir, "cluster.json"),
    `${JSON.stringify(url ? { ...info, prometheus: url } : info, null, 2)}\n`,
    { mode: 0o600 },
  );
  const procs = [...Object.values(cluster.procs), ...(prometheus ? [prometheus.proc] : [])];
  const pids = Object.fromEntries(procs.map((p) => [p.name, p.pid]));
  writeFileSync(path.join(dataDir, "pids.json"), `${JSON.stringify(pids, null, 2)}\n`);

  console.log(`\nOOSE is up.\n\n${table(info, url)}\n`);
  console.log(`  admin login     ${info.admin.username} / ${info.admin.password}  (POST /user/login)`);
  console.log(`  prism auth      ${info.prismAuth.username} / ${info.prismAuth.password}`);
  console.log(`  store auth      ${info.storeAuth.username} / ${info.storeAuth.password}`);
  console.log(`\n  cluster.json    ${path.join(dataDir, "cluster.json")}`);
  console.log(`  logs            ${cluster.logDir}`);
  if (url) console.log(`  alerts          ${url}/alerts  (rules: monitoring/rules.yml)`);
  const entry = info.front ?? info.prisms[0]!.url;
  console.log(`  try it          curl ${info.ca ? `--cacert ${info.ca} ` : ""}${entry}/ping`);
  console.log("\nCtrl-C stops the cluster.");
}

main().catch((err) => {
  console.error(`npm start failed: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});

import { writeFileSync } from "node:fs";
import path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { defaultSpec } from "../../app/topology/model.js";
import { type ClusterInfo, type LocalCluster, startCluster } from "./cluster.js";

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
  .parse()
  .opts<{
    prisms: number;
    storesPerPrism: number;
    replicas?: number;
    basePort: number;
    data: string;
    fresh: boolean;
    http: boolean;
  }>();

function table(info: ClusterInfo): string {
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
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}

async function main(): Promise<void> {
  const dataDir = path.resolve(opts.data);
  const spec = defaultSpec(opts.prisms, opts.storesPerPrism, opts.replicas ?? 2);
  console.log(`Starting OOSE: ${spec.prisms.length} prisms, ${spec.stores.length} stores, ${spec.replicas} replicas…`);
  let cluster: LocalCluster | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping every process…`);
    // During start-up, main() stops whatever came up once startCluster returns.
    if (!cluster) return;
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
  writeFileSync(path.join(dataDir, "cluster.json"), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  const pids = Object.fromEntries(Object.values(cluster.procs).map((p) => [p.name, p.pid]));
  writeFileSync(path.join(dataDir, "pids.json"), `${JSON.stringify(pids, null, 2)}\n`);

  console.log(`\nOOSE is up.\n\n${table(info)}\n`);
  console.log(`  admin login     ${info.admin.username} / ${info.admin.password}  (POST /user/login)`);
  console.log(`  prism auth      ${info.prismAuth.username} / ${info.prismAuth.password}`);
  console.log(`  store auth      ${info.storeAuth.username} / ${info.storeAuth.password}`);
  console.log(`\n  cluster.json    ${path.join(dataDir, "cluster.json")}`);
  console.log(`  logs            ${cluster.logDir}`);
  const entry = info.front ?? info.prisms[0]!.url;
  console.log(`  try it          curl ${info.ca ? `--cacert ${info.ca} ` : ""}${entry}/ping`);
  console.log("\nCtrl-C stops the cluster.");
}

main().catch((err) => {
  console.error(`npm start failed: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});

import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { PrismClient } from "../app/client/prism.js";
import { defaultSpec } from "../app/topology/model.js";
import { startCluster } from "../infra/local/cluster.js";
import { freeBlock } from "../test/helpers/cluster.js";
import { deliverBench } from "./deliver.js";
import { healBench } from "./heal.js";
import { uploadBench } from "./upload.js";

// `npm run bench [-- <suite…>]`: upload and deliver run on a fresh local
// cluster (2 prisms, 4 stores); heal (its own clusters), migrate and scan are
// long and run on request.

const SUITES = ["upload", "deliver", "heal", "migrate", "scan"] as const;
const opts = new Command()
  .argument("[suites...]", `any of ${SUITES.join(", ")}, or all`, ["upload", "deliver"])
  .parse();
const wanted = new Set<string>(opts.processedArgs[0].includes("all") ? SUITES : opts.processedArgs[0]);

async function clusterSuites(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "oose-bench-"));
  // nginx workers run as nobody when the bench runs as root; they must reach the content dirs.
  chmodSync(dataDir, 0o755);
  const cluster = await startCluster({
    spec: defaultSpec(2, 2, 2),
    basePort: await freeBlock(),
    dataDir,
    logDir: path.join(dataDir, "logs"),
    persist: false,
    // Plain HTTP, like the nginx baselines each result is compared with.
    http: true,
    // No shaping: the benchmark measures what the path can do, not the configured caps.
    storeRate: { requestsPerSecond: 1_000_000, burst: 1_000_000, bytesPerSecond: 1024 ** 4 },
    extraEnv: (node): Record<string, string> =>
      node.role === "prism"
        ? { OOSE_PURCHASE__SIGNED_URL_LIFE: "3600000", OOSE_LOG_LEVEL: "warn", OOSE_WORKERS: String(os.cpus().length) }
        : { OOSE_LOG_LEVEL: "warn" },
  });
  try {
    const clients = await Promise.all(
      cluster.info.prisms.map(async (p) => {
        const c = new PrismClient({ baseUrl: p.url, timeoutMs: 120_000 });
        await c.login(cluster.info.admin.username, cluster.info.admin.password);
        return c;
      }),
    );
    console.log(`# OOSE benchmarks, ${new Date().toISOString()}, ${os.cpus().length} cores, node ${process.version}`);
    if (wanted.has("upload")) await uploadBench(cluster, clients);
    if (wanted.has("deliver")) await deliverBench(cluster, clients[0]!);
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (wanted.has("upload") || wanted.has("deliver")) await clusterSuites();
if (wanted.has("heal")) await healBench();
for (const suite of ["migrate", "scan"]) {
  if (!wanted.has(suite)) continue;
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), `${suite}.ts`);
  const res = spawnSync(process.execPath, ["--import", "tsx", script], { stdio: "inherit" });
  if (res.status !== 0) process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);

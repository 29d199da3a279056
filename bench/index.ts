import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { deliverBench } from "./deliver.js";
import { healBench } from "./heal.js";
import { withBenchCluster } from "./lib.js";
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
  await withBenchCluster(
    (node): Record<string, string> =>
      node.role === "prism"
        ? { OOSE_PURCHASE__SIGNED_URL_LIFE: "3600000", OOSE_WORKERS: String(os.cpus().length) }
        : {},
    async (cluster, clients) => {
      console.log(`# OOSE benchmarks, ${new Date().toISOString()}, ${os.cpus().length} cores, node ${process.version}`);
      if (wanted.has("upload")) await uploadBench(cluster, clients);
      if (wanted.has("deliver")) await deliverBench(cluster, clients[0]!);
    },
  );
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

import cluster, { type Worker } from "node:cluster";
import type { Config } from "./config.js";
import type { Logger } from "./log.js";
import { serveWorkerMetrics } from "./metrics/cluster.js";

// A prism with `workers > 1` runs as a supervisor and that many worker
// processes sharing the API port (OOSE's workers.count). Worker 1 also does the
// node-wide work (heartbeat, stepping down); singleton jobs hold Redis leases.
// A worker that dies is replaced; SIGTERM/SIGINT stop them all.

const RESPAWN_MS = 1000;
const STOP_MS = 12_000;

export function supervise(config: Config, log: Logger): void {
  // Let the kernel spread connections: the default round-robin passes every socket through this process.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const workers = new Map<number, Worker>();
  let stopping = false;

  const fork = (id: number) => {
    const worker = cluster.fork({ OOSE_WORKER: String(id) });
    workers.set(id, worker);
    worker.on("exit", (code, signal) => {
      workers.delete(id);
      if (stopping) return;
      log.error({ worker: id, code, signal }, "worker died; starting another");
      setTimeout(() => fork(id), RESPAWN_MS).unref();
    });
  };
  for (let id = 1; id <= config.workers; id++) fork(id);
  // A scrape reaches one worker; it asks here for every worker's figures together.
  if (config.metrics.enabled) serveWorkerMetrics();

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: workers.size }, "stopping workers");
    const exits = [...workers.values()].map((w) => new Promise((resolve) => w.once("exit", resolve)));
    for (const w of workers.values()) w.process.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const w of workers.values()) w.process.kill("SIGKILL");
    }, STOP_MS);
    await Promise.all(exits);
    clearTimeout(timer);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

export const isSupervisor = (config: Config) => config.workers > 1 && cluster.isPrimary;

import cluster from "node:cluster";
import { AggregatorRegistry, register } from "prom-client";

// A prism with workers > 1: each worker keeps its own figures, and the kernel
// hands a scrape to any one of them. The worker that takes it asks the
// supervisor, which gathers every worker's figures with prom-client's
// AggregatorRegistry (counters and histograms summed, gauges by their
// aggregator) and answers with the node's total, whichever worker asked.

const ASK = "oose:metrics";
const ANSWER = "oose:metrics-answer";
/** Past prom-client's own 5 s wait for the workers' answers. */
const WAIT_MS = 8000;

interface Message {
  type?: string;
  id?: number;
  text?: string;
  error?: string;
}

/** In the supervisor: answers the workers' requests for the whole node's metrics. */
export function serveWorkerMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker, msg: Message) => {
    if (msg?.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id: msg.id, text }),
      (err: Error) => worker.send({ type: ANSWER, id: msg.id, error: err.message }),
    );
  });
}

const pending = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
let asked = 0;
let joined = false;

/** In a worker: answers the supervisor's gathering (prom-client's listener) and takes its answers. */
export function joinWorkerMetrics(): void {
  if (!cluster.isWorker || joined) return;
  joined = true;
  new AggregatorRegistry();
  process.on("message", (msg: Message) => {
    if (msg?.type !== ANSWER || msg.id === undefined) return;
    const waiter = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error !== undefined) waiter?.reject(new Error(`worker metrics: ${msg.error}`));
    else waiter?.resolve(msg.text ?? "");
  });
}

/** This node's metrics as Prometheus text: the process's own, or in a worker, every worker's together. */
export function nodeMetrics(): Promise<string> {
  if (!joined || !process.send) return register.metrics();
  const id = ++asked;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error("worker metrics: the supervisor did not answer"));
    }, WAIT_MS);
    const done =
      <T>(fn: (v: T) => void) =>
      (v: T) => {
        clearTimeout(timer);
        fn(v);
      };
    pending.set(id, { resolve: done(resolve), reject: done(reject) });
    process.send?.({ type: ASK, id });
  });
}

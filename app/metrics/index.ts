import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from "prom-client";

// The metric catalog: every oose_* metric a node exposes on /metrics, in
// prom-client's default registry. Modules import the objects they update.
// Labels never carry a hash, token, user name or URL: `op` is the verb of a
// call, `peer`/`store` are node names, `route` is a route template. Gauges
// name how a prism's workers combine (metrics/cluster.ts): never hiding a
// problem one of them sees.

/** Off (metrics.enabled false): the hot paths skip their timing; set once per process by the node app. */
export const metricsState = { enabled: true };

let defaultsOn = false;

/** process_* and nodejs_* (event-loop lag, heap, GC), once per process. */
export function startProcessMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics();
}

const LATENCY = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const TRANSFER = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

/** The verb of a call's description: "get store:p1:s1" → "get", "heal: list inventory" → "heal_list_inventory". */
export function opLabel(what: string): string {
  const words: string[] = [];
  for (const part of what.split(" ")) {
    const w = part.endsWith(":") ? part.slice(0, -1) : part;
    // Ids, hashes, counts and names with digits or punctuation end the verb.
    if (words.length === 3 || !/^[a-z_]{1,16}$/i.test(w)) break;
    words.push(w.toLowerCase());
  }
  return words.length > 0 ? words.join("_") : "other";
}

// Both roles.
export const httpDuration = new Histogram({
  name: "oose_http_request_duration_seconds",
  help: "API requests by route template (deliver, static, unmatched for the special cases), method and status",
  labelNames: ["route", "method", "status"] as const,
  buckets: LATENCY,
});
export const couchDuration = new Histogram({
  name: "oose_couchdb_request_duration_seconds",
  help: "CouchDB calls by operation; outcome ok, error (an answer such as a 404 or a refusal) or unavailable",
  labelNames: ["op", "outcome"] as const,
  buckets: LATENCY,
});
export const redisDuration = new Histogram({
  name: "oose_redis_request_duration_seconds",
  help: "Redis calls by operation; outcome ok, error or unavailable",
  labelNames: ["op", "outcome"] as const,
  buckets: LATENCY,
});
export interface BackendHealth {
  couchdb: { ok: boolean };
  redis: { ok: boolean };
}
/** The node's own (cached) health probes, read at each scrape. */
export const backendSource: { check?: () => Promise<BackendHealth> } = {};
export const backendUp = new Gauge({
  name: "oose_backend_up",
  aggregator: "min",
  help: "1 when this node's own health check reaches the backend (couchdb, redis)",
  labelNames: ["backend"] as const,
  async collect() {
    const h = await backendSource.check?.();
    if (!h) return;
    this.set({ backend: "couchdb" }, h.couchdb.ok ? 1 : 0);
    this.set({ backend: "redis" }, h.redis.ok ? 1 : 0);
  },
});
export const redisFailovers = new Counter({
  name: "oose_redis_failovers_total",
  help: "Times this node's Redis connection came back to a different primary",
});
export const peerUp = new Gauge({
  name: "oose_heartbeat_peer_up",
  aggregator: "max",
  help: "1 when this node's last heartbeat ping to the peer succeeded",
  labelNames: ["peer", "type"] as const,
});
export const votesCast = new Counter({
  name: "oose_heartbeat_votes_cast_total",
  help: "Down-votes this node cast against a peer",
  labelNames: ["peer"] as const,
});
/** peer name → when this node last had a good ping from it (ms since the epoch). */
export const lastGoodPing = new Map<string, number>();
export const lastGoodPingAge = new Gauge({
  name: "oose_heartbeat_last_good_ping_age_seconds",
  aggregator: "max",
  help: "Seconds since the peer last answered this node's heartbeat ping (since the heartbeat started, if never)",
  labelNames: ["peer"] as const,
  collect() {
    this.reset();
    const now = Date.now();
    for (const [peer, at] of lastGoodPing) this.set({ peer }, Math.max(0, (now - at) / 1000));
  },
});

// Prism.
export const uploadBytes = new Counter({
  name: "oose_upload_bytes_total",
  help: "Bytes of files placed (uploads, retrieves, PUTs)",
});
export const uploads = new Counter({
  name: "oose_uploads_total",
  help: "Files placed: ok (new copies), duplicate (already held), error",
  labelNames: ["outcome"] as const,
});
export const uploadDedupe = new Counter({
  name: "oose_upload_dedupe_total",
  help: "Uploads of content already held: no new copy written",
});
export const placementCopies = new Counter({
  name: "oose_placement_copies_total",
  help: "Copies placed by uploads, by zone of the store",
  labelNames: ["zone"] as const,
});
export const routedAround = new Counter({
  name: "oose_stores_routed_around_total",
  help: "Times a delivery, download or upload avoided a store this prism suspects, by why",
  labelNames: ["store", "reason"] as const,
});
export const hotAdded = new Counter({ name: "oose_hot_copies_added_total", help: "Extra copies made for hot content" });
export const hotRemoved = new Counter({
  name: "oose_hot_copies_removed_total",
  help: "Extra copies removed once content cooled",
});
export interface DataSafety {
  under: number;
  noLive: number;
  backlog: number;
}
/** The cluster's last heal pass (and repairs since), as stored in Redis; read once per scrape. */
export const dataSafetySource: { read?: () => Promise<DataSafety | undefined> } = {};
let safetyRead: { at: number; value: Promise<DataSafety | undefined> } | undefined;
function readSafety(): Promise<DataSafety | undefined> {
  const now = Date.now();
  if (!safetyRead || now - safetyRead.at >= 1000) {
    const value = dataSafetySource.read?.().catch(() => undefined) ?? Promise.resolve(undefined);
    safetyRead = { at: now, value };
  }
  return safetyRead.value;
}
/** A gauge showing one figure of the data safety; unchanged while Redis cannot be read. */
const safetyGauge = (name: string, help: string, pick: (s: DataSafety) => number) =>
  new Gauge({
    name,
    help,
    aggregator: "max",
    async collect() {
      const s = await readSafety();
      if (s) this.set(pick(s));
    },
  });
export const underReplicated = safetyGauge(
  "oose_files_under_replicated",
  "Files short of their replica count after the cluster's last finished heal pass, raised by repairs since",
  (s) => s.under,
);
export const withoutLiveCopy = safetyGauge(
  "oose_files_without_live_copy",
  "Files with no live copy at all, as the cluster's last finished heal pass (or a repair since) found them",
  (s) => s.noLive,
);
export const healBacklog = safetyGauge(
  "oose_heal_backlog",
  "Short files the last finished heal pass left for the next one (too young, or their copies failed)",
  (s) => s.backlog,
);

// Store.
export const stageDuration = new Histogram({
  name: "oose_store_stage_duration_seconds",
  help: "Upload bytes in until staged on disk under a temp name",
  buckets: TRANSFER,
});
export const commitDuration = new Histogram({
  name: "oose_store_commit_duration_seconds",
  help: "Commits: hash check, fsync, rename, directory fsync and the inventory record",
  buckets: LATENCY,
});
export const bytesWritten = new Counter({ name: "oose_store_bytes_written_total", help: "Bytes of copies committed" });
export const inventoryBatchDocs = new Histogram({
  name: "oose_inventory_batch_docs",
  help: "Inventory docs per _bulk_docs request",
  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
});
export const inventoryBatchDuration = new Histogram({
  name: "oose_inventory_batch_duration_seconds",
  help: "Inventory _bulk_docs requests",
  buckets: LATENCY,
});
export const scrubProgress = new Gauge({
  name: "oose_scrub_progress_ratio",
  help: "How far the current scrub pass is, 0..1",
});
/** When the least recently verified copy was last verified (ms since the epoch), as of the last scrub pass. */
export const oldestVerification = { at: undefined as number | undefined };
export const oldestVerificationAge = new Gauge({
  name: "oose_oldest_verification_age_seconds",
  help: "Age of the least recently verified copy on this store, as of its last finished scrub pass",
  collect() {
    const at = oldestVerification.at;
    if (at !== undefined) this.set(Math.max(0, (Date.now() - at) / 1000));
  },
});
export const corruptCopies = new Counter({
  name: "oose_corrupt_copies_found_total",
  help: "Copies the scrub found corrupt",
});
export const diskFree = new Gauge({ name: "oose_store_disk_free_bytes", help: "Free bytes on the store's disk" });
export const diskTotal = new Gauge({ name: "oose_store_disk_total_bytes", help: "Size of the store's disk" });
export const nginxRequests = new Counter({
  name: "oose_nginx_requests_total",
  help: "Requests this store's nginx answered, by status, from its access log",
  labelNames: ["status"] as const,
});
export const nginxBytesSent = new Counter({
  name: "oose_nginx_bytes_sent_total",
  help: "Body bytes this store's nginx sent, from its access log",
});

/** The metrics of one role only; a node of the other role does not show them. */
const ROLE_ONLY = {
  prism: [
    ...["oose_upload_bytes_total", "oose_uploads_total", "oose_upload_dedupe_total", "oose_placement_copies_total"],
    ...["oose_stores_routed_around_total", "oose_hot_copies_added_total", "oose_hot_copies_removed_total"],
    ...["oose_files_under_replicated", "oose_files_without_live_copy", "oose_heal_backlog"],
  ],
  store: [
    ...["oose_store_stage_duration_seconds", "oose_store_commit_duration_seconds", "oose_store_bytes_written_total"],
    ...["oose_inventory_batch_docs", "oose_inventory_batch_duration_seconds", "oose_scrub_progress_ratio"],
    ...["oose_oldest_verification_age_seconds", "oose_corrupt_copies_found_total"],
    ...["oose_store_disk_free_bytes", "oose_store_disk_total_bytes"],
    ...["oose_nginx_requests_total", "oose_nginx_bytes_sent_total"],
  ],
};

/** Unregisters the metrics of the other role (they stay usable, and unseen). */
export function showRole(role: "prism" | "store"): void {
  for (const name of ROLE_ONLY[role === "prism" ? "store" : "prism"]) register.removeSingleMetric(name);
}

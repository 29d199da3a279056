// The metric names the nodes export (the shared catalog), for checking that the
// alert rules and the dashboard query only series that exist. Listed here, not
// read from the app, so a renamed metric breaks these checks instead of
// silently emptying a panel.

export type MetricType = "counter" | "gauge" | "histogram";

export const CATALOG: Record<string, MetricType> = {
  // Both roles.
  oose_http_request_duration_seconds: "histogram",
  oose_couchdb_request_duration_seconds: "histogram",
  oose_redis_request_duration_seconds: "histogram",
  oose_backend_up: "gauge",
  oose_redis_failovers_total: "counter",
  oose_heartbeat_peer_up: "gauge",
  oose_heartbeat_votes_cast_total: "counter",
  oose_heartbeat_last_good_ping_age_seconds: "gauge",
  // Prism.
  oose_upload_bytes_total: "counter",
  oose_uploads_total: "counter",
  oose_upload_dedupe_total: "counter",
  oose_placement_copies_total: "counter",
  oose_stores_routed_around_total: "counter",
  oose_hot_copies_added_total: "counter",
  oose_hot_copies_removed_total: "counter",
  oose_files_under_replicated: "gauge",
  oose_files_without_live_copy: "gauge",
  oose_heal_backlog: "gauge",
  // Store.
  oose_store_stage_duration_seconds: "histogram",
  oose_store_commit_duration_seconds: "histogram",
  oose_store_bytes_written_total: "counter",
  oose_inventory_batch_docs: "histogram",
  oose_inventory_batch_duration_seconds: "histogram",
  oose_scrub_progress_ratio: "gauge",
  oose_oldest_verification_age_seconds: "gauge",
  oose_corrupt_copies_found_total: "counter",
  oose_store_disk_free_bytes: "gauge",
  oose_store_disk_total_bytes: "gauge",
  oose_nginx_requests_total: "counter",
  oose_nginx_bytes_sent_total: "counter",
  // prom-client's collectDefaultMetrics() (the ones the dashboard uses).
  process_cpu_seconds_total: "counter",
  nodejs_eventloop_lag_seconds: "gauge",
  nodejs_heap_size_used_bytes: "gauge",
  nodejs_gc_duration_seconds: "histogram",
  // Prometheus' own, per scrape target.
  up: "gauge",
};

const SUFFIXES = ["_bucket", "_sum", "_count"];

/** Whether `series` is a catalog metric, or one of a catalog histogram's series. */
export function inCatalog(series: string): boolean {
  if (CATALOG[series]) return true;
  const suffix = SUFFIXES.find((s) => series.endsWith(s));
  return suffix !== undefined && CATALOG[series.slice(0, -suffix.length)] === "histogram";
}

import { stringify } from "yaml";

// The Prometheus configuration for a cluster, shared by `npm start -- --metrics`
// and the Pulumi program: one scrape job per role, each behind that role's
// basic auth, one target per node labelled with the node's name.

export const JOBS = { prism: "oose-prism", store: "oose-store" } as const;

export interface ScrapeJob {
  /** Each node's name (its `instance` label) and the base URL of its API, as Prometheus reaches it. */
  nodes: { name: string; url: string }[];
  username: string;
  /** The file holding the role's password, as Prometheus sees it (never the password itself). */
  passwordFile: string;
}

export interface PrometheusConfigOptions {
  prism: ScrapeJob;
  store: ScrapeJob;
  /** The CA that https nodes' certificates are verified against (default: the system's). */
  caFile?: string;
  ruleFiles: string[];
  scrapeInterval?: string;
}

function scrapeConfig(job: string, j: ScrapeJob, caFile: string | undefined) {
  const urls = j.nodes.map((n) => new URL(n.url));
  const schemes = new Set(urls.map((u) => u.protocol));
  if (schemes.size > 1) throw new Error(`${job}: nodes mix http and https`);
  const https = schemes.has("https:");
  return {
    job_name: job,
    scheme: https ? "https" : "http",
    metrics_path: "/metrics",
    basic_auth: { username: j.username, password_file: j.passwordFile },
    ...(https && caFile ? { tls_config: { ca_file: caFile } } : {}),
    // An explicit instance label survives relabelling; Prometheus would otherwise use host:port.
    static_configs: j.nodes.map((n, i) => ({ targets: [urls[i]!.host], labels: { instance: n.name } })),
  };
}

export function renderPrometheusConfig(o: PrometheusConfigOptions): string {
  const interval = o.scrapeInterval ?? "15s";
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: o.ruleFiles,
    scrape_configs: [scrapeConfig(JOBS.prism, o.prism, o.caFile), scrapeConfig(JOBS.store, o.store, o.caFile)],
  });
}

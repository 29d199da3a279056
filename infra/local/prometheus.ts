import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { renderPrometheusConfig } from "../../monitoring/prometheus.js";
import { HOST } from "./addressing.js";
import type { ClusterInfo } from "./cluster.js";
import { httpOk, type Proc, startProc, waitFor } from "./proc.js";

// `npm start -- --metrics`: Debian's prometheus beside the cluster, scraping
// every prism and store with the repository's alert rules. Its config, the
// role passwords (files it reads, never arguments) and its data live in
// <data>/prometheus.

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
export const RULES_FILE = path.join(ROOT, "monitoring/rules.yml");
/** On PATH: Debian's package puts it in /usr/bin (`node scripts/ensure-deps.mjs --metrics` installs it). */
export const PROMETHEUS = "prometheus";
/** P+7 of the cluster's port block is free (see addressing.ts). */
export const prometheusPort = (basePort: number) => basePort + 7;

/** Writes the config and the password files into `dir`; returns the config's path. */
export function writeLocalPrometheusConfig(info: ClusterInfo, dir: string, scrapeInterval?: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secret = (name: string, value: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, value, { mode: 0o600 });
    chmodSync(file, 0o600);
    return file;
  };
  const conf = renderPrometheusConfig({
    prism: {
      nodes: info.prisms,
      username: info.prismAuth.username,
      passwordFile: secret("prism.password", info.prismAuth.password),
    },
    store: {
      nodes: info.stores,
      username: info.storeAuth.username,
      passwordFile: secret("store.password", info.storeAuth.password),
    },
    caFile: info.ca ?? undefined,
    ruleFiles: [RULES_FILE],
    scrapeInterval,
  });
  const file = path.join(dir, "prometheus.yml");
  writeFileSync(file, conf);
  return file;
}

export interface LocalPrometheus {
  proc: Proc;
  url: string;
  /** Resolves once Prometheus answers /-/ready; rejects (and stops it) if it exits or never does. */
  ready: Promise<void>;
}

export function startPrometheus(o: {
  info: ClusterInfo;
  dataDir: string;
  logDir: string;
  port: number;
  scrapeInterval?: string;
}): LocalPrometheus {
  const dir = path.join(o.dataDir, "prometheus");
  const config = writeLocalPrometheusConfig(o.info, dir, o.scrapeInterval);
  const url = `http://${HOST}:${o.port}`;
  const proc = startProc(
    "prometheus",
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=${HOST}:${o.port}`,
    ],
    { logDir: o.logDir },
  );
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  const ready = (async () => {
    try {
      await waitFor("prometheus", async () => exited || (await httpOk(`${url}/-/ready`)), 30_000, 200);
      if (exited) throw new Error(`prometheus exited before it was ready; see ${proc.logFile}`);
    } catch (err) {
      await proc.stop();
      throw err;
    }
  })();
  return { proc, url, ready };
}

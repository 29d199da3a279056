import { readFileSync } from "node:fs";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { stringify } from "yaml";
import { renderPrometheusConfig } from "../../monitoring/prometheus.js";
import { apiUrl } from "../addressing.js";
import type { StackConfig } from "../stack.js";
import type { Service } from "../layout.js";
import { containerOpts, type HostContext, type Limit, limits, SERVICE_DEFAULTS } from "./common.js";
import type { SecretCredentials } from "./secrets.js";

// Optional monitoring on one host: Prometheus scraping every prism and store
// by the addresses the other containers use, with the repository's alert
// rules, and Grafana with that Prometheus and the dashboard provisioned. Every
// file is uploaded read-only; passwords only as secret uploads.

const REPO = new URL("../../", import.meta.url);
const repoFile = (file: string) => readFileSync(new URL(file, REPO), "utf8");

/** The official images' users: nobody for Prometheus, grafana (472, group root) for Grafana. */
const PROMETHEUS_USER = { uid: "65534", gid: "65534" };
const GRAFANA_USER = { uid: "472", gid: "0" };
const PROMETHEUS_PORT = 9090;
const GRAFANA_PORT = 3000;
const ETC_PROMETHEUS = "/etc/prometheus";
const SECRETS = `${ETC_PROMETHEUS}/secrets`;
const GRAFANA_PASSWORD = "/etc/grafana/secrets/admin-password";
const DASHBOARD = "/etc/grafana/dashboards/oose.json";

export interface MonitoringArgs {
  ctx: HostContext;
  prefix: string;
  prisms: Service[];
  stores: Service[];
  prismAuth: SecretCredentials;
  storeAuth: SecretCredentials;
  /** The cluster CA: the nodes' APIs speak HTTPS with its certificates. */
  ca: pulumi.Output<string>;
  settings: StackConfig["monitoring"];
  images: Pick<StackConfig["images"], "prometheus" | "grafana">;
  limits: { prometheus: Limit; grafana: Limit };
}

/** Readable by the container's group, writable by nobody but root. */
const readOnly = (file: string, content: pulumi.Input<string>, gid: string): docker.types.input.ContainerUpload => ({
  file,
  content,
  owner: "0",
  group: gid,
  permissions: "0440",
});

const httpCheck = (url: string) => ({
  tests: ["CMD", "wget", "-q", "-O", "/dev/null", url],
  interval: "10s",
  timeout: "5s",
  retries: 6,
  startPeriod: "20s",
});

export class Monitoring extends pulumi.ComponentResource {
  readonly prometheus: docker.Container;
  readonly grafana: docker.Container;
  readonly grafanaAdmin: SecretCredentials;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:Monitoring", name, {}, opts);
    const { ctx, settings } = args;
    const provider = ctx.provider;
    const image = (kind: "prometheus" | "grafana") =>
      new docker.RemoteImage(
        `${name}-${kind}-image`,
        { name: args.images[kind], keepLocally: true },
        { parent: this, provider },
      ).imageId;
    // Samples and Grafana's own database outlive the containers.
    const volume = (kind: string) =>
      new docker.Volume(
        `${name}-${kind}-data`,
        { name: `${args.prefix}-${kind}-data` },
        { parent: this, provider, retainOnDelete: true },
      ).name;
    const run = (kind: string, internal: number, external: number) => ({
      name: `${args.prefix}-${kind}`,
      hostname: `${args.prefix}-${kind}`,
      networksAdvanced: [{ name: ctx.network.name }],
      ports: [{ internal, external, ip: settings.bindAddress }],
    });

    const url = (s: Service) => ({ name: s.name, url: apiUrl(s) });
    const config = renderPrometheusConfig({
      caFile: `${ETC_PROMETHEUS}/ca.crt`,
      prism: { nodes: args.prisms.map(url), username: args.prismAuth.username, passwordFile: `${SECRETS}/prism` },
      store: { nodes: args.stores.map(url), username: args.storeAuth.username, passwordFile: `${SECRETS}/store` },
      ruleFiles: [`${ETC_PROMETHEUS}/rules.yml`],
    });
    const gid = PROMETHEUS_USER.gid;
    this.prometheus = new docker.Container(
      `${name}-prometheus`,
      {
        ...SERVICE_DEFAULTS,
        ...limits(args.limits.prometheus),
        ...run("prometheus", PROMETHEUS_PORT, settings.prometheusPort),
        image: image("prometheus"),
        user: `${PROMETHEUS_USER.uid}:${PROMETHEUS_USER.gid}`,
        command: [
          `--config.file=${ETC_PROMETHEUS}/prometheus.yml`,
          "--storage.tsdb.path=/prometheus",
          `--storage.tsdb.retention.time=${settings.retention}`,
          `--web.listen-address=:${PROMETHEUS_PORT}`,
        ],
        uploads: [
          readOnly(`${ETC_PROMETHEUS}/prometheus.yml`, config, gid),
          readOnly(`${ETC_PROMETHEUS}/rules.yml`, repoFile("monitoring/rules.yml"), gid),
          readOnly(`${ETC_PROMETHEUS}/ca.crt`, args.ca, gid),
          readOnly(`${SECRETS}/prism`, pulumi.secret(args.prismAuth.password), gid),
          readOnly(`${SECRETS}/store`, pulumi.secret(args.storeAuth.password), gid),
        ],
        volumes: [{ volumeName: volume("prometheus"), containerPath: "/prometheus" }],
        healthcheck: httpCheck(`http://127.0.0.1:${PROMETHEUS_PORT}/-/ready`),
        wait: true,
      },
      containerOpts(ctx, this),
    );

    this.grafanaAdmin = {
      username: "admin",
      password: pulumi.secret(
        new random.RandomPassword(`${name}-grafana-password`, { length: 32, special: false }, { parent: this }).result,
      ),
    };
    const datasources = stringify({
      apiVersion: 1,
      datasources: [
        {
          name: "Prometheus",
          uid: "oose-prometheus",
          type: "prometheus",
          access: "proxy",
          url: `http://${args.prefix}-prometheus:${PROMETHEUS_PORT}`,
          isDefault: true,
          editable: false,
        },
      ],
    });
    const dashboards = stringify({
      apiVersion: 1,
      providers: [
        {
          name: "oose",
          type: "file",
          disableDeletion: true,
          allowUiUpdates: false,
          options: { path: DASHBOARD.slice(0, DASHBOARD.lastIndexOf("/")) },
        },
      ],
    });
    const g = GRAFANA_USER.gid;
    this.grafana = new docker.Container(
      `${name}-grafana`,
      {
        ...SERVICE_DEFAULTS,
        ...limits(args.limits.grafana),
        ...run("grafana", GRAFANA_PORT, settings.grafanaPort),
        image: image("grafana"),
        user: `${GRAFANA_USER.uid}:${GRAFANA_USER.gid}`,
        envs: [
          `GF_SECURITY_ADMIN_USER=${this.grafanaAdmin.username}`,
          // Read at the first start only: Grafana keeps the password in its database afterwards.
          `GF_SECURITY_ADMIN_PASSWORD__FILE=${GRAFANA_PASSWORD}`,
          "GF_USERS_ALLOW_SIGN_UP=false",
          "GF_ANALYTICS_REPORTING_ENABLED=false",
          "GF_ANALYTICS_CHECK_FOR_UPDATES=false",
          `GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=${DASHBOARD}`,
        ],
        uploads: [
          readOnly("/etc/grafana/provisioning/datasources/oose.yml", datasources, g),
          readOnly("/etc/grafana/provisioning/dashboards/oose.yml", dashboards, g),
          readOnly(DASHBOARD, repoFile("monitoring/dashboard.json"), g),
          readOnly(GRAFANA_PASSWORD, this.grafanaAdmin.password, g),
        ],
        volumes: [{ volumeName: volume("grafana"), containerPath: "/var/lib/grafana" }],
        healthcheck: httpCheck(`http://127.0.0.1:${GRAFANA_PORT}/api/health`),
        wait: true,
      },
      containerOpts(ctx, this, { dependsOn: [this.prometheus] }),
    );
    this.registerOutputs({ prometheus: this.prometheus.name, grafana: this.grafana.name });
  }
}

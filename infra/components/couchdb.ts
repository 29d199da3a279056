import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { COUCHDB_TLS_PORT, couchTls, couchTlsPublished } from "../backend-tls.js";
import { ERLANG_PORTS, type Service } from "../layout.js";
import type { ClusterCa } from "./ca.js";
import {
  containerOpts,
  type HostContext,
  JOB_DEFAULTS,
  jobSucceeded,
  type Limit,
  limits,
  SERVICE_DEFAULTS,
  secretEnv,
} from "./common.js";
import { SETUP_DIR, SETUP_SCRIPT, type SetupNode, setupPlan } from "./couchdb-setup.js";
import type { ClusterSecrets } from "./secrets.js";

// CouchDB: one node or a cluster, the official image, a data volume per node,
// healthy on /_up before anything goes on, then joined (or set up as a single
// node) through _cluster_setup by a one-shot job on the job host; a node added
// later is joined by the next run. Clients use its TLS listener ([ssl], 6984)
// with a certificate from the cluster CA. The official image ships no curl, so
// the healthcheck speaks HTTP through bash on loopback and the job runs on the
// app image's node.

export interface CouchDbArgs {
  nodes: Service[];
  multiHost: boolean;
  /** The Docker network name; with a dot appended it makes the Erlang host part on a single host. */
  network: string;
  hosts: Record<string, HostContext>;
  image: (host: string) => pulumi.Output<string>;
  /** The app image on the job host (it has node and fetch). */
  jobImage: pulumi.Output<string>;
  secrets: ClusterSecrets;
  limits: Limit;
  jobHost: string;
  ca: ClusterCa;
}

/** The app image's user, who runs the setup job; the official image's couchdb user. */
const APP_UID = "1000";
const COUCHDB_UID = "5984";
const TLS_DIR = "/opt/couchdb/etc/tls";
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const UP_CHECK =
  "exec 3<>/dev/tcp/127.0.0.1/5984 && printf 'GET /_up HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '";

export class CouchDb extends pulumi.ComponentResource {
  readonly containers: docker.Container[];
  /** Resolves once the cluster is set up; fails the deployment if the setup job failed. */
  readonly ready: pulumi.Output<string>;

  constructor(name: string, args: CouchDbArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:CouchDb", name, {}, opts);
    const ctx = (host: string) => args.hosts[host]!;
    const s = args.secrets;
    // Erlang long names need a dot: the network alias `<container>.<network>` on one host, the address otherwise.
    const nodeName = (n: Service) => (args.multiHost ? n.host.address : `${n.container}.${args.network}`);
    const setupNodes: SetupNode[] = args.nodes.map((n) => ({
      host: nodeName(n),
      port: n.reach.port,
      url: `https://${couchTls(n).host}:${couchTls(n).port}`,
    }));
    const ini = s.couchUuid.apply((uuid) =>
      [
        `[couchdb]\nuuid = ${uuid}\n\n[cluster]\nn = ${Math.min(3, args.nodes.length)}\n`,
        `[ssl]\nenable = true\nport = ${COUCHDB_TLS_PORT}`,
        `cert_file = ${TLS_DIR}/couchdb.crt\nkey_file = ${TLS_DIR}/couchdb.key\ncacert_file = ${TLS_DIR}/ca.crt\n`,
      ].join("\n"),
    );
    const file = (path: string, content: pulumi.Input<string>, permissions: string) => ({
      file: path,
      content,
      owner: COUCHDB_UID,
      group: COUCHDB_UID,
      permissions,
    });

    this.containers = args.nodes.map((n) => {
      const c = ctx(n.host.name);
      const volume = new docker.Volume(
        `${name}-${n.name}-data`,
        { name: `${n.container}-data` },
        // Protected as the stores' are: a replacement would start the node on an empty volume.
        { parent: this, provider: c.provider, retainOnDelete: true, protect: true },
      );
      const erlang =
        args.multiHost && args.nodes.length > 1 ? ERLANG_PORTS.map((p) => ({ internal: p, external: p })) : [];
      const tlsPort = couchTlsPublished(n);
      const address = n.host.address;
      const dial = couchTls(n).host;
      const cert = args.ca.nodeCertificate(
        `${name}-${n.name}`,
        [...new Set([n.container, nodeName(n), "localhost", ...(IPV4.test(dial) ? [] : [dial])])],
        [...new Set(["127.0.0.1", ...(IPV4.test(address) ? [address] : [])])],
      );
      return new docker.Container(
        `${name}-${n.name}`,
        {
          ...SERVICE_DEFAULTS,
          ...limits(args.limits),
          image: args.image(n.host.name),
          name: n.container,
          hostname: n.container,
          networksAdvanced: [{ name: c.network.name, aliases: [nodeName(n)] }],
          ports:
            n.published === undefined || tlsPort === undefined
              ? []
              : [
                  { internal: n.port, external: n.published },
                  { internal: COUCHDB_TLS_PORT, external: tlsPort },
                  ...erlang,
                ],
          envs: secretEnv(
            pulumi.all([s.couchdb.password, s.couchSecret, s.erlangCookie]).apply(([password, secret, cookie]) => ({
              COUCHDB_USER: s.couchdb.username,
              COUCHDB_PASSWORD: password,
              COUCHDB_SECRET: secret,
              COUCHDB_ERLANG_COOKIE: cookie,
              NODENAME: nodeName(n),
            })),
          ),
          volumes: [{ volumeName: volume.name, containerPath: "/opt/couchdb/data" }],
          uploads: [
            { file: "/opt/couchdb/etc/local.d/10-oose.ini", content: ini },
            file(`${TLS_DIR}/couchdb.crt`, cert.cert, "0644"),
            file(`${TLS_DIR}/couchdb.key`, cert.key, "0600"),
            file(`${TLS_DIR}/ca.crt`, args.ca.cert, "0644"),
          ],
          healthcheck: {
            tests: ["CMD", "bash", "-c", UP_CHECK],
            interval: "10s",
            timeout: "5s",
            retries: 6,
            startPeriod: "30s",
          },
          wait: true,
          waitTimeout: 300,
        },
        containerOpts(c, this),
      );
    });

    const job = ctx(args.jobHost);
    const plan = s.couchdb.password.apply((password) =>
      JSON.stringify(setupPlan(setupNodes, { username: s.couchdb.username, password })),
    );
    const setup = new docker.Container(
      `${name}-setup`,
      {
        ...JOB_DEFAULTS,
        image: args.jobImage,
        name: `${args.nodes[0]!.container}-setup`,
        command: ["node", `${SETUP_DIR}/run.mjs`],
        networksAdvanced: [{ name: job.network.name }],
        // Node's fetch trusts the cluster CA beside the system's.
        envs: [`NODE_EXTRA_CA_CERTS=${SETUP_DIR}/ca.crt`],
        uploads: [
          { file: `${SETUP_DIR}/ca.crt`, content: args.ca.cert },
          { file: `${SETUP_DIR}/run.mjs`, content: SETUP_SCRIPT },
          { file: `${SETUP_DIR}/plan.json`, content: pulumi.secret(plan), owner: APP_UID, permissions: "0400" },
        ],
        // Replaced, and so run again, whenever a node is replaced; the job is idempotent.
        labels: this.containers.map((c, i) => ({ label: `oose.couchdb.node${i + 1}`, value: c.id })),
      },
      containerOpts(job, this, { dependsOn: this.containers }),
    );
    this.ready = jobSucceeded("CouchDB cluster setup", setup);
    this.registerOutputs({ ready: this.ready });
  }
}

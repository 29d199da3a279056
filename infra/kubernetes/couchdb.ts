import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { SETUP_DIR, SETUP_SCRIPT, setupPlan } from "../components/couchdb-setup.js";
import type { ClusterSecrets } from "../components/secrets.js";
import { PORTS } from "../layout.js";
import type { KubeNames } from "./names.js";
import { httpProbe, type Limit, labels, ROLLED, resources } from "./pod.js";

// CouchDB as a StatefulSet of N nodes with a volume each, known to Erlang by
// their stable pod names, then set up by the same _cluster_setup job the
// Docker target runs (its plan, with the admin password, in a Secret).

export interface KubeCouchDbArgs {
  names: KubeNames;
  prefix: string;
  nodes: number;
  image: string;
  jobImage: string;
  secrets: ClusterSecrets;
  storage: { className?: string; size: string };
  limit: Limit;
  request: Limit;
  imagePullSecrets: { name: string }[];
}

export class KubeCouchDb extends pulumi.ComponentResource {
  readonly set: k8s.apps.v1.StatefulSet;
  readonly setup: k8s.batch.v1.Job;

  constructor(name: string, a: KubeCouchDbArgs, opts: pulumi.ComponentResourceOptions) {
    super("oose:kubernetes:CouchDb", name, {}, opts);
    const o = { parent: this };
    const n = a.names;
    const meta = (what: string) => ({
      name: n.name(what),
      namespace: n.namespace,
      labels: labels(a.prefix, "couchdb"),
    });
    const unnamed = { namespace: n.namespace, labels: labels(a.prefix, "couchdb") };
    const rolled = { ...o, ...ROLLED };
    const headless = `${n.couchdb}-nodes`;
    const s = a.secrets;
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: unnamed,
        stringData: {
          password: s.couchdb.password,
          secret: s.couchSecret,
          cookie: s.erlangCookie,
        },
      },
      rolled,
    );
    const ini = new k8s.core.v1.ConfigMap(
      `${name}-ini`,
      {
        metadata: unnamed,
        data: {
          "10-oose.ini": s.couchUuid.apply(
            (uuid) => `[couchdb]\nuuid = ${uuid}\n\n[cluster]\nn = ${Math.min(3, a.nodes)}\n`,
          ),
        },
      },
      rolled,
    );
    const selector = { ...labels(a.prefix, "couchdb") };
    const port = [{ name: "http", port: PORTS.couchdb, targetPort: PORTS.couchdb }];
    // Erlang needs every node's name to resolve before any is ready.
    new k8s.core.v1.Service(
      `${name}-nodes`,
      {
        metadata: meta("couchdb-nodes"),
        spec: { clusterIP: "None", publishNotReadyAddresses: true, selector, ports: port },
      },
      o,
    );
    new k8s.core.v1.Service(`${name}-service`, { metadata: meta("couchdb"), spec: { selector, ports: port } }, o);
    const fromSecret = (key: string) => ({ secretKeyRef: { name: secret.metadata.name, key } });
    this.set = new k8s.apps.v1.StatefulSet(
      `${name}-set`,
      {
        metadata: meta("couchdb"),
        spec: {
          serviceName: headless,
          replicas: a.nodes,
          podManagementPolicy: "Parallel",
          selector: { matchLabels: selector },
          template: {
            metadata: { labels: selector },
            spec: {
              imagePullSecrets: a.imagePullSecrets,
              containers: [
                {
                  name: "couchdb",
                  image: a.image,
                  env: [
                    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                    { name: "NODENAME", value: `$(POD_NAME).${n.fqdn(headless)}` },
                    { name: "COUCHDB_USER", value: s.couchdb.username },
                    { name: "COUCHDB_PASSWORD", valueFrom: fromSecret("password") },
                    { name: "COUCHDB_SECRET", valueFrom: fromSecret("secret") },
                    { name: "COUCHDB_ERLANG_COOKIE", valueFrom: fromSecret("cookie") },
                  ],
                  ports: [{ name: "http", containerPort: PORTS.couchdb }],
                  volumeMounts: [
                    { name: "data", mountPath: "/opt/couchdb/data" },
                    { name: "ini", mountPath: "/opt/couchdb/etc/local.d/10-oose.ini", subPath: "10-oose.ini" },
                  ],
                  resources: resources(a.limit, a.request),
                  readinessProbe: httpProbe("/_up", PORTS.couchdb),
                  livenessProbe: { tcpSocket: { port: PORTS.couchdb }, periodSeconds: 10, failureThreshold: 6 },
                },
              ],
              volumes: [{ name: "ini", configMap: { name: ini.metadata.name } }],
            },
          },
          volumeClaimTemplates: [claim("data", a.storage)],
        },
      },
      o,
    );

    const nodes = Array.from({ length: a.nodes }, (_, i) => {
      const host = n.pod(n.couchdb, i, headless);
      return { host, port: PORTS.couchdb, url: `http://${host}:${PORTS.couchdb}` };
    });
    const plan = new k8s.core.v1.Secret(
      `${name}-setup-plan`,
      {
        metadata: unnamed,
        stringData: {
          "plan.json": s.couchdb.password.apply((password) =>
            JSON.stringify(setupPlan(nodes, { username: s.couchdb.username, password })),
          ),
          "run.mjs": SETUP_SCRIPT,
        },
      },
      rolled,
    );
    // Awaited by the provider: the migration, and so every workload, waits for it.
    this.setup = new k8s.batch.v1.Job(
      `${name}-setup`,
      {
        metadata: { namespace: n.namespace, labels: labels(a.prefix, "couchdb-setup") },
        spec: {
          backoffLimit: 3,
          template: {
            spec: {
              restartPolicy: "Never",
              imagePullSecrets: a.imagePullSecrets,
              containers: [
                {
                  name: "setup",
                  image: a.jobImage,
                  command: ["node", `${SETUP_DIR}/run.mjs`],
                  volumeMounts: [{ name: "setup", mountPath: SETUP_DIR, readOnly: true }],
                },
              ],
              volumes: [{ name: "setup", secret: { secretName: plan.metadata.name, defaultMode: 0o440 } }],
              securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
            },
          },
        },
      },
      { ...o, dependsOn: [this.set] },
    );
    this.registerOutputs({});
  }
}

/** A volume claim template: one ReadWriteOnce volume per pod, of the configured class and size. */
export const claim = (name: string, storage: { className?: string; size: string }) => ({
  metadata: { name },
  spec: {
    accessModes: ["ReadWriteOnce"],
    storageClassName: storage.className,
    resources: { requests: { storage: storage.size } },
  },
});

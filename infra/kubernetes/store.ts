import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DATA_ROOT } from "../addressing.js";
import { PORTS } from "../layout.js";
import { claim } from "./couchdb.js";
import type { KubeNames } from "./names.js";
import { NGINX_CONF, nginxContainer, TLS_DIR } from "./nginx.js";
import { APP_UID, appContainer, type Container, type Limit, labels, ROLLED, type Volume, zoneInit } from "./pod.js";

// A store: a StatefulSet of one pod (each store has its own name, zone and
// parent prism, so its own env), with its one volume claim, the app writing
// into it and the store's nginx beside it serving the same volume read-only.
// Stores keep away from each other's nodes and zones.

/** Where the app and nginx share the access log (nginx writes it, the app follows it for metrics). */
export const ACCESS_LOG_ROOT = "/var/log/oose";

export interface KubeStoreArgs {
  names: KubeNames;
  prefix: string;
  store: string;
  image: string;
  nginxImage: string;
  env: k8s.types.input.core.v1.EnvVar[];
  /** The rendered nginx.conf (it holds the signing key). */
  nginxConf: pulumi.Output<string>;
  storage: { className?: string; size: string };
  limits: { store: Limit; nginx: Limit };
  requests: { store: Limit; nginx: Limit };
  spread: "preferred" | "required";
  /** The zone init container's script and service account, when the zone comes from the node. */
  zone?: { script: pulumi.Input<string>; serviceAccount: pulumi.Input<string> };
  /** The TLS Secret, when this nginx terminates TLS itself. */
  tlsSecret?: pulumi.Input<string>;
  /** When set, a Service of this type exposes the nginx to end users. */
  publicService?: "LoadBalancer" | "NodePort";
  imagePullSecrets: { name: string }[];
  /** The migration job: the pod rolls out only once it completed. */
  dependsOn: pulumi.Resource[];
}

const HOSTNAME = "kubernetes.io/hostname";
const ZONE = "topology.kubernetes.io/zone";

export class KubeStore extends pulumi.ComponentResource {
  readonly set: k8s.apps.v1.StatefulSet;

  constructor(name: string, a: KubeStoreArgs, opts: pulumi.ComponentResourceOptions) {
    super("oose:kubernetes:Store", name, {}, opts);
    const o = { parent: this };
    const n = a.names;
    const objectName = n.name(a.store);
    const own = labels(a.prefix, "store", a.store);
    const stores = { matchLabels: labels(a.prefix, "store") };
    const meta = (suffix = "") => ({ name: `${objectName}${suffix}`, namespace: n.namespace, labels: own });
    const conf = new k8s.core.v1.Secret(
      `${name}-nginx-conf`,
      { metadata: { namespace: n.namespace, labels: own }, stringData: { "nginx.conf": a.nginxConf } },
      { ...o, ...ROLLED },
    );
    const nginxPort = n.nginxPort;
    new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: meta(),
        spec: {
          selector: own,
          ports: [
            { name: "api", port: PORTS.store, targetPort: PORTS.store },
            { name: "nginx", port: nginxPort, targetPort: nginxPort },
          ],
        },
      },
      o,
    );
    if (a.publicService)
      new k8s.core.v1.Service(
        `${name}-public`,
        {
          metadata: meta("-public"),
          spec: {
            type: a.publicService,
            selector: own,
            ports: [{ name: "nginx", port: a.tlsSecret ? 443 : 80, targetPort: nginxPort }],
          },
        },
        o,
      );

    const zone = a.zone && zoneInit(a.image, a.zone.script);
    const logs = { name: "logs", mountPath: ACCESS_LOG_ROOT };
    const app = appContainer({
      image: a.image,
      env: [...a.env, { name: "OOSE_ACCESS_LOG__DIR", value: ACCESS_LOG_ROOT }],
      port: PORTS.store,
      mounts: [{ name: "data", mountPath: DATA_ROOT }, logs],
      limit: a.limits.store,
      request: a.requests.store,
      zoneFromNode: a.zone !== undefined,
    });
    const nginx: Container = nginxContainer({
      image: a.nginxImage,
      port: nginxPort,
      tls: a.tlsSecret !== undefined,
      mounts: [
        { name: "data", mountPath: DATA_ROOT, readOnly: true },
        logs,
        { name: "nginx-conf", mountPath: NGINX_CONF, subPath: "nginx.conf", readOnly: true },
        ...(a.tlsSecret ? [{ name: "tls", mountPath: TLS_DIR, readOnly: true }] : []),
      ],
      limit: a.limits.nginx,
      request: a.requests.nginx,
    });
    const volumes: Volume[] = [
      // Lost with the pod: ship the access logs elsewhere if they must outlive it.
      { name: "logs", emptyDir: {} },
      { name: "nginx-conf", secret: { secretName: conf.metadata.name, defaultMode: 0o440 } },
      ...(a.tlsSecret ? [{ name: "tls", secret: { secretName: a.tlsSecret, defaultMode: 0o440 } }] : []),
      ...(zone?.volumes ?? []),
    ];
    const apart = (topologyKey: string) => ({ labelSelector: stores, topologyKey });
    this.set = new k8s.apps.v1.StatefulSet(
      `${name}-set`,
      {
        metadata: meta(),
        spec: {
          serviceName: n.stores,
          replicas: 1,
          podManagementPolicy: "OrderedReady",
          updateStrategy: { type: "RollingUpdate" },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
          selector: { matchLabels: own },
          template: {
            metadata: { labels: own },
            spec: {
              imagePullSecrets: a.imagePullSecrets,
              serviceAccountName: a.zone?.serviceAccount,
              automountServiceAccountToken: false,
              // The volume is the app's; nginx reads it through the same group.
              securityContext: { fsGroup: APP_UID, fsGroupChangePolicy: "OnRootMismatch" },
              terminationGracePeriodSeconds: 30,
              affinity: {
                podAntiAffinity: {
                  ...(a.spread === "required"
                    ? { requiredDuringSchedulingIgnoredDuringExecution: [apart(HOSTNAME)] }
                    : {}),
                  preferredDuringSchedulingIgnoredDuringExecution: [
                    ...(a.spread === "preferred" ? [{ weight: 100, podAffinityTerm: apart(HOSTNAME) }] : []),
                    { weight: 50, podAffinityTerm: apart(ZONE) },
                  ],
                },
              },
              initContainers: zone?.initContainers,
              containers: [app, nginx],
              volumes,
            },
          },
          volumeClaimTemplates: [claim("data", a.storage)],
        },
      },
      { ...o, deleteBeforeReplace: true, dependsOn: a.dependsOn },
    );
    this.registerOutputs({});
  }
}

/** The stores' governing Service: headless, so each store pod has its stable DNS name. */
export const storesService = (names: KubeNames, prefix: string, opts: pulumi.CustomResourceOptions) =>
  new k8s.core.v1.Service(
    "stores-service",
    {
      metadata: { name: names.stores, namespace: names.namespace, labels: labels(prefix, "store") },
      spec: {
        clusterIP: "None",
        selector: labels(prefix, "store"),
        ports: [{ name: "api", port: PORTS.store, targetPort: PORTS.store }],
      },
    },
    opts,
  );

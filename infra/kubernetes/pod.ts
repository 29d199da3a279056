import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { Limits } from "../stack.js";
import { ZONE_FILE } from "./env.js";

// Pieces every OOSE pod shares: labels, resources, probes, the app container
// and the init container that reads the node's zone label.

export type Container = k8s.types.input.core.v1.Container;
export type Volume = k8s.types.input.core.v1.Volume;
type EnvVar = k8s.types.input.core.v1.EnvVar;
export type Limit = Limits["prism"];

/** The app image's user (node), who owns every data volume through fsGroup. */
export const APP_UID = 1000;
export const ZONE_SCRIPT_DIR = "/opt/oose-zone";
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const ZONE_DIR = ZONE_FILE.slice(0, ZONE_FILE.lastIndexOf("/"));

/**
 * Options of the Secrets and ConfigMaps pods read when they start, which are
 * left unnamed: the provider names them, and a change makes a new one under a
 * new name, so every pod that reads it rolls out (an edit in place reaches none).
 */
export const ROLLED: pulumi.CustomResourceOptions = {
  replaceOnChanges: ["data", "stringData"],
  deleteBeforeReplace: false,
};

export const labels = (prefix: string, component: string, node?: string): Record<string, string> => ({
  "app.kubernetes.io/name": "oose",
  "app.kubernetes.io/instance": prefix,
  "app.kubernetes.io/component": component,
  ...(node ? { "oose.io/node": node } : {}),
});

const quantities = (l: Limit | undefined) =>
  l && (l.memoryMb !== undefined || l.cpus !== undefined)
    ? {
        ...(l.memoryMb !== undefined ? { memory: `${l.memoryMb}Mi` } : {}),
        ...(l.cpus !== undefined ? { cpu: String(l.cpus) } : {}),
      }
    : undefined;

export const resources = (limit: Limit, request: Limit): k8s.types.input.core.v1.ResourceRequirements => ({
  limits: quantities(limit),
  requests: quantities(request),
});

export const httpProbe = (path: string, port: number, failureThreshold = 3): k8s.types.input.core.v1.Probe => ({
  httpGet: { path, port },
  periodSeconds: 10,
  timeoutSeconds: 5,
  failureThreshold,
});

export interface AppContainerArgs {
  image: pulumi.Input<string>;
  env: EnvVar[];
  port: number;
  mounts: k8s.types.input.core.v1.VolumeMount[];
  limit: Limit;
  request: Limit;
  zoneFromNode: boolean;
}

/**
 * A prism or store process: alive while /livez answers (no backend asked, so an
 * outage restarts nothing), ready while /readyz does (503 when CouchDB or Redis is down).
 */
export function appContainer(a: AppContainerArgs): Container {
  return {
    name: "app",
    image: a.image,
    env: a.env,
    ports: [{ name: "api", containerPort: a.port }],
    volumeMounts: [...a.mounts, ...(a.zoneFromNode ? [{ name: "topology", mountPath: ZONE_DIR, readOnly: true }] : [])],
    resources: resources(a.limit, a.request),
    startupProbe: httpProbe("/livez", a.port, 30),
    livenessProbe: httpProbe("/livez", a.port),
    readinessProbe: httpProbe("/readyz", a.port),
    securityContext: { runAsNonRoot: true, runAsUser: APP_UID, allowPrivilegeEscalation: false },
  };
}

/**
 * Node labels are out of the downward API's reach, so an init container asks
 * the API server for its node (RBAC: get nodes) and writes the zone file. Only
 * it gets the service account's token; the pod's other containers get none.
 */
export function zoneInit(image: pulumi.Input<string>, scriptConfigMap: pulumi.Input<string>) {
  const initContainers: Container[] = [
    {
      name: "zone",
      image,
      command: ["node", `${ZONE_SCRIPT_DIR}/node-zone.mjs`, ZONE_FILE],
      env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
      volumeMounts: [
        { name: "topology", mountPath: ZONE_DIR },
        { name: "zone-script", mountPath: ZONE_SCRIPT_DIR, readOnly: true },
        { name: "kube-api", mountPath: SA_DIR, readOnly: true },
      ],
      securityContext: { runAsNonRoot: true, runAsUser: APP_UID, allowPrivilegeEscalation: false },
    },
  ];
  const volumes: Volume[] = [
    { name: "topology", emptyDir: {} },
    { name: "zone-script", configMap: { name: scriptConfigMap } },
    {
      name: "kube-api",
      projected: {
        sources: [
          { serviceAccountToken: { path: "token", expirationSeconds: 600 } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        ],
      },
    },
  ];
  return { initContainers, volumes };
}

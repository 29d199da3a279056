import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PORTS } from "../layout.js";
import type { KubeNames } from "./names.js";
import { appContainer, type Limit, labels, zoneInit } from "./pod.js";

// A prism: a Deployment behind its own Service (peers reach it by name; the
// prism's name, zone and stores make its env its own). It keeps no data, so
// a rollout replaces its pod in place, one unavailable at a time.

export interface KubePrismArgs {
  names: KubeNames;
  prefix: string;
  prism: string;
  image: string;
  env: k8s.types.input.core.v1.EnvVar[];
  limit: Limit;
  request: Limit;
  zone?: { script: pulumi.Input<string>; serviceAccount: pulumi.Input<string> };
  imagePullSecrets: { name: string }[];
  /** The migration job: the pod rolls out only once it completed. */
  dependsOn: pulumi.Resource[];
}

export class KubePrism extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;

  constructor(name: string, a: KubePrismArgs, opts: pulumi.ComponentResourceOptions) {
    super("oose:kubernetes:Prism", name, {}, opts);
    const o = { parent: this };
    const n = a.names;
    const own = labels(a.prefix, "prism", a.prism);
    const metadata = { name: n.name(a.prism), namespace: n.namespace, labels: own };
    new k8s.core.v1.Service(
      `${name}-service`,
      { metadata, spec: { selector: own, ports: [{ name: "api", port: PORTS.prism, targetPort: PORTS.prism }] } },
      o,
    );
    const zone = a.zone && zoneInit(a.image, a.zone.script);
    this.deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata,
        spec: {
          replicas: 1,
          // One pod per prism name: the old one stops (SIGTERM, up to 15 s to step down) before the new one starts.
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
          selector: { matchLabels: own },
          template: {
            metadata: { labels: own },
            spec: {
              imagePullSecrets: a.imagePullSecrets,
              serviceAccountName: a.zone?.serviceAccount,
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: 20,
              affinity: {
                podAntiAffinity: {
                  preferredDuringSchedulingIgnoredDuringExecution: [
                    {
                      weight: 50,
                      podAffinityTerm: {
                        labelSelector: { matchLabels: labels(a.prefix, "prism") },
                        topologyKey: "kubernetes.io/hostname",
                      },
                    },
                  ],
                },
              },
              initContainers: zone?.initContainers,
              containers: [
                appContainer({
                  image: a.image,
                  env: a.env,
                  port: PORTS.prism,
                  mounts: [],
                  limit: a.limit,
                  request: a.request,
                  zoneFromNode: a.zone !== undefined,
                }),
              ],
              volumes: zone?.volumes,
            },
          },
        },
      },
      { ...o, dependsOn: a.dependsOn },
    );
    this.registerOutputs({});
  }
}

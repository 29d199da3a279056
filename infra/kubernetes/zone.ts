import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { KubeNames } from "./names.js";
import { labels, ROLLED } from "./pod.js";

// What the zone init container needs (pod.ts, zoneInit): its script, and a
// service account allowed to read nodes, nothing else. Nodes are cluster-wide,
// so the role is a ClusterRole, named after the namespace to stay unique.

export function zoneAccess(
  name: string,
  names: KubeNames,
  prefix: string,
  script: string,
  opts: pulumi.CustomResourceOptions,
) {
  const meta = { name: names.name("zone"), namespace: names.namespace, labels: labels(prefix, "zone") };
  const clusterWide = { name: `${names.namespace}-${names.name("zone")}`, labels: meta.labels };
  const account = new k8s.core.v1.ServiceAccount(`${name}-account`, { metadata: meta }, opts);
  const role = new k8s.rbac.v1.ClusterRole(
    `${name}-role`,
    { metadata: clusterWide, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }] },
    opts,
  );
  const binding = new k8s.rbac.v1.ClusterRoleBinding(
    `${name}-binding`,
    {
      metadata: clusterWide,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace: names.namespace }],
    },
    opts,
  );
  const config = new k8s.core.v1.ConfigMap(
    `${name}-script`,
    { metadata: { namespace: meta.namespace, labels: meta.labels }, data: { "node-zone.mjs": script } },
    { ...opts, ...ROLLED },
  );
  // The pods wait for the binding too: without it the init container's read is refused.
  return {
    script: config.metadata.name,
    serviceAccount: binding.metadata.name.apply(() => meta.name),
  };
}

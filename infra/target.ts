import * as pulumi from "@pulumi/pulumi";
import { createCluster as createDockerCluster } from "./cluster.js";
import { parseStackConfig, rawStackConfig } from "./config.js";
import { createKubernetesCluster } from "./kubernetes/cluster.js";
import { parseKubeStackConfig } from "./kubernetes/config.js";
import type { KubeStackConfig } from "./kubernetes/stack.js";
import type { StackConfig } from "./stack.js";

// `oose:target` picks what the topology is rendered onto: Docker hosts (the
// default, infra/cluster.ts) or a Kubernetes cluster (infra/kubernetes/).
// Each target's config is checked whole by its own schema; both renderers
// share the topology, nodeEnv, the secrets and the config renderers.

export type ClusterConfig = StackConfig | KubeStackConfig;

export const parseClusterConfig = (raw: Record<string, unknown>): ClusterConfig =>
  raw.target === "kubernetes" ? parseKubeStackConfig(raw) : parseStackConfig(raw);

/** The current stack's config, for the target it names. */
export const readClusterConfig = (project = pulumi.getProject()) => parseClusterConfig(rawStackConfig(project));

/** `pulumi up`'s one entry: the cluster on the stack's target, with the outputs both give. */
export function createCluster(cfg: ClusterConfig) {
  const c = "target" in cfg ? createKubernetesCluster(cfg) : createDockerCluster(cfg);
  return { frontUrl: c.frontUrl, prismUrls: c.prismUrls, storeUrls: c.storeUrls, credentials: c.credentials };
}

import { createCluster, readClusterConfig } from "./target.js";

// `pulumi up` entry point: the stack config, validated, rendered as a cluster on its target.

const cluster = createCluster(readClusterConfig());

export const frontUrl = cluster.frontUrl;
export const prismUrls = cluster.prismUrls;
export const storeUrls = cluster.storeUrls;
/** Secret: `pulumi stack output credentials --show-secrets`. */
export const credentials = cluster.credentials;

import { createCluster } from "./cluster.js";
import { readStackConfig } from "./config.js";

// `pulumi up` entry point: the stack config, validated, rendered as a cluster.

const cluster = createCluster(readStackConfig());

export const frontUrl = cluster.frontUrl;
export const prismUrls = cluster.prismUrls;
export const storeUrls = cluster.storeUrls;
/** Secret: `pulumi stack output credentials --show-secrets`. */
export const credentials = cluster.credentials;

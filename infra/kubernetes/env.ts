import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../../app/config.js";
import { envName } from "../../app/config-env.js";
import { type Addressing, nodeEnv, SECRET_ENV, type Secrets } from "../../app/topology/env.js";
import type { ClusterNode, ClusterSpec } from "../../app/topology/model.js";
import { FROM_POD } from "./names.js";
import type { KubeStackConfig } from "./stack.js";

// A pod's environment is nodeEnv's, as for every other target, but no secret
// value is ever written into a manifest: nodeEnv runs with stand-ins for the
// secrets, and their variables become references to one Secret. The node's
// name comes from the downward API; a zone left out of the config comes from
// the file the zone init container writes (OOSE_CONFIG, which env overrides).

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** Where the zone init container writes `{"zone": …}` for the app to read as its OOSE_CONFIG. */
export const ZONE_FILE = "/run/oose/topology.json";
const STAND_IN = "(from the Secret; never in a manifest)";
const HOST = envName(["host"]);
const ZONE = envName(["zone"]);

/** The app's credentials by user name, with stand-ins for every secret. */
function standIns(auth: KubeStackConfig["auth"]): Secrets {
  return {
    prismAuth: { username: auth.prism, password: STAND_IN },
    storeAuth: { username: auth.store, password: STAND_IN },
    couchdb: { username: auth.couchdb, password: STAND_IN },
    signingKey: STAND_IN,
    redisPassword: STAND_IN,
  };
}

export interface PodEnvArgs {
  spec: ClusterSpec;
  at: Addressing;
  auth: KubeStackConfig["auth"];
  /** The Secret holding SECRET_ENV's variables (appSecretEnv). */
  secret: pulumi.Input<string>;
  extra?: Record<string, string>;
}

/**
 * The node's env as the pod gets it, checked with the app's own loader first,
 * so a bad env fails `pulumi up` (and preview) instead of a pod.
 */
export function podEnv(node: ClusterNode, a: PodEnvArgs): EnvVar[] {
  const env = nodeEnv(a.spec, node, a.at, standIns(a.auth), a.extra);
  loadConfig(env);
  const out: EnvVar[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (SECRET_ENV.includes(name)) out.push({ name, valueFrom: { secretKeyRef: { name: a.secret, key: name } } });
    else if (name === HOST) out.push({ name, valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } });
    else if (name === ZONE && value === FROM_POD.zone) out.push({ name: "OOSE_CONFIG", value: ZONE_FILE });
    else if (value.includes(STAND_IN)) throw new Error(`${node.name}: ${name} holds a secret in a plain value`);
    else out.push({ name, value });
  }
  return out;
}

/** The secret variables as nodeEnv writes them, for the app Secret; the same for every node. */
export function appSecretEnv(spec: ClusterSpec, at: Addressing, secrets: Secrets): Record<string, string> {
  const env = nodeEnv(spec, { ...spec.stores[0]!, role: "store" }, at, secrets);
  return Object.fromEntries(SECRET_ENV.filter((k) => env[k] !== undefined).map((k) => [k, env[k]!]));
}

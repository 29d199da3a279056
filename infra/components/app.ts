import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterNode } from "../../app/topology/model.js";
import { NODE_TLS } from "../addressing.js";
import type { Service } from "../layout.js";
import type { IssuedCertificate } from "./ca.js";
import {
  containerOpts,
  type HostContext,
  type Limit,
  limits,
  placement,
  SERVICE_DEFAULTS,
  secretEnv,
} from "./common.js";

// The app container a prism or a store runs: the OOSE image with the node's
// env (from nodeEnv, secret as a whole) and its certificate from the cluster
// CA, live on /livez before `pulumi up` moves on. Liveness, not /healthz: a
// CouchDB or Redis outage must not fail every container's wait.

/** The image's node user: the key is readable by its group only. */
const NODE_GID = "1000";

export interface AppContainerArgs {
  node: ClusterNode;
  service: Service;
  ctx: HostContext;
  image: pulumi.Input<string>;
  env: pulumi.Output<Record<string, string>>;
  /** The node's certificate and key, and the cluster CA it verifies its peers against. */
  tls: IssuedCertificate & { ca: pulumi.Output<string> };
  /** Outputs that must resolve first (the migration job); they gate creation without becoming inputs. */
  after: pulumi.Output<unknown>[];
  /** What the container comes after. A component's own dependsOn would order the component, not its containers. */
  dependsOn: pulumi.Resource[];
  limits: Limit;
}

/** The image's liveness check (dist/app/livez.js), with the image's timings. */
export const LIVENESS = {
  tests: ["CMD", "node", "dist/app/livez.js"],
  interval: "10s",
  timeout: "5s",
  retries: 3,
  startPeriod: "20s",
} satisfies docker.types.input.ContainerHealthcheck;

/** The certificate files at NODE_TLS: public ones world-readable, the key for the node's group only. */
export function tlsUploads(tls: AppContainerArgs["tls"]): docker.types.input.ContainerUpload[] {
  const file = (path: string, content: pulumi.Input<string>, permissions: string) => ({
    file: path,
    content,
    owner: "0",
    group: NODE_GID,
    permissions,
  });
  return [
    file(NODE_TLS.ca, tls.ca, "0444"),
    file(NODE_TLS.cert, tls.cert, "0444"),
    file(NODE_TLS.key, pulumi.secret(tls.key), "0440"),
  ];
}

export function appContainer(
  name: string,
  parent: pulumi.Resource,
  args: AppContainerArgs,
  extra: Partial<docker.ContainerArgs> = {},
): docker.Container {
  const env = pulumi.all([args.env, pulumi.all(args.after)]).apply(([e]) => e);
  return new docker.Container(
    name,
    {
      ...SERVICE_DEFAULTS,
      ...limits(args.limits),
      ...placement(args.service, args.ctx),
      image: args.image,
      envs: secretEnv(env),
      labels: [
        { label: "oose.role", value: args.node.role },
        { label: "oose.node", value: args.node.name },
      ],
      uploads: tlsUploads(args.tls),
      healthcheck: LIVENESS,
      // tini as PID 1 forwards SIGTERM; main.ts needs up to 10 s to step down.
      init: true,
      stopTimeout: 15,
      wait: true,
      waitTimeout: 180,
      ...extra,
    },
    containerOpts(args.ctx, parent, { dependsOn: args.dependsOn }),
  );
}

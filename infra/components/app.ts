import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterNode } from "../../app/topology/model.js";
import type { Service } from "../layout.js";
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
// env (from nodeEnv, secret as a whole), healthy on /healthz before
// `pulumi up` moves on.

export interface AppContainerArgs {
  node: ClusterNode;
  service: Service;
  ctx: HostContext;
  image: pulumi.Input<string>;
  env: pulumi.Output<Record<string, string>>;
  /** Outputs that must resolve first (the migration job); they gate creation without becoming inputs. */
  after: pulumi.Output<unknown>[];
  /** What the container comes after. A component's own dependsOn would order the component, not its containers. */
  dependsOn: pulumi.Resource[];
  limits: Limit;
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

import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { renderFrontNginx } from "../../nginx/front.js";
import type { Service } from "../layout.js";
import { containerOpts, type HostContext, type Limit, limits, placement, SERVICE_DEFAULTS } from "./common.js";
import { CA_PATH, NGINX_HEALTH, nginxRun, TLS_PATHS } from "./nginx.js";
import { PRISM_TLS_NAME } from "./node-tls.js";

// The front: nginx (TLS when configured) spreading clients over the prisms,
// which it reaches over HTTPS and verifies against the cluster CA.

export interface FrontArgs {
  service: Service;
  ctx: HostContext;
  image: pulumi.Input<string>;
  prisms: Service[];
  /** The prism containers: nginx resolves upstream names once, so it restarts when they are replaced. */
  prismContainers: docker.Container[];
  limits: Limit;
  tls?: { cert: pulumi.Output<string>; key: pulumi.Output<string> };
  /** The cluster CA the prisms' certificates come from. */
  ca: pulumi.Output<string>;
}

export class Front extends pulumi.ComponentResource {
  readonly nginx: docker.Container;

  constructor(name: string, args: FrontArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:Front", name, {}, opts);
    const conf = renderFrontNginx({
      listen: { host: "0.0.0.0", port: args.service.port },
      prisms: args.prisms.map((p) => p.reach),
      tls: args.tls ? TLS_PATHS : undefined,
      upstreamTls: { ca: CA_PATH, name: PRISM_TLS_NAME },
      health: NGINX_HEALTH,
    });
    this.nginx = new docker.Container(
      `${name}-nginx`,
      {
        ...SERVICE_DEFAULTS,
        ...limits(args.limits),
        ...placement(args.service, args.ctx),
        ...nginxRun({ conf, tls: args.tls, ca: args.ca }),
        image: args.image,
        labels: args.prismContainers.map((c, i) => ({ label: `oose.upstream${i + 1}`, value: c.id })),
      },
      containerOpts(args.ctx, this, { dependsOn: args.prismContainers }),
    );
    this.registerOutputs({ nginx: this.nginx.name });
  }
}

import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../../app/config.js";
import { renderStoreNginx } from "../../nginx/store.js";
import { CONTENT_ROOT, DATA_ROOT } from "../addressing.js";
import type { Service } from "../layout.js";
import { type AppContainerArgs, appContainer } from "./app.js";
import { containerOpts, type HostContext, type Limit, limits, placement, SERVICE_DEFAULTS } from "./common.js";
import { nginxRun, TLS_PATHS } from "./nginx.js";

// A store: one data volume, the app (ROLE=store) writing into it, and an nginx
// serving the same volume read-only to end users with signed links.

export interface StoreNodeArgs extends AppContainerArgs {
  nginx: Service;
  nginxImage: pulumi.Input<string>;
  nginxLimits: Limit;
  tls?: { cert: pulumi.Output<string>; key: pulumi.Output<string> };
}

export class StoreNode extends pulumi.ComponentResource {
  readonly volume: docker.Volume;
  readonly app: docker.Container;
  readonly nginx: docker.Container;

  constructor(name: string, args: StoreNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:StoreNode", name, {}, opts);
    const ctx: HostContext = args.ctx;
    // Content outlives the container: `pulumi destroy` leaves the volume behind.
    this.volume = new docker.Volume(
      `${name}-data`,
      { name: `${args.service.container}-data` },
      { parent: this, provider: ctx.provider, retainOnDelete: true },
    );
    this.app = appContainer(`${name}-app`, this, args, {
      volumes: [{ volumeName: this.volume.name, containerPath: DATA_ROOT }],
    });

    const conf = pulumi.output(args.env).apply((env) => {
      const config = loadConfig(env);
      return renderStoreNginx({
        name: config.name,
        listen: { host: "0.0.0.0", port: args.nginx.port },
        contentRoot: CONTENT_ROOT,
        signingKey: config.signingKey,
        denyStaticTypes: config.denyStaticTypes,
        tls: args.tls ? TLS_PATHS : undefined,
      });
    });
    this.nginx = new docker.Container(
      `${name}-nginx`,
      {
        ...SERVICE_DEFAULTS,
        ...limits(args.nginxLimits),
        ...placement(args.nginx, ctx),
        ...nginxRun({ conf: pulumi.secret(conf), tls: args.tls }),
        image: args.nginxImage,
        volumes: [{ volumeName: this.volume.name, containerPath: DATA_ROOT, readOnly: true }],
      },
      // After the app: the volume is first mounted (and so owned) as the app's /data.
      containerOpts(ctx, this, { dependsOn: [this.app] }),
    );
    this.registerOutputs({ volume: this.volume.name, app: this.app.name, nginx: this.nginx.name });
  }
}

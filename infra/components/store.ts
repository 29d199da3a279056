import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../../app/config.js";
import { renderStoreNginx, storeNginxOptions } from "../../nginx/store.js";
import { DATA_ROOT } from "../addressing.js";
import type { Service } from "../layout.js";
import { type AppContainerArgs, appContainer } from "./app.js";
import { containerOpts, type HostContext, type Limit, limits, placement, SERVICE_DEFAULTS } from "./common.js";
import { nginxRun, TLS_PATHS } from "./nginx.js";

// A store: one data volume, the app (ROLE=store) writing into it, and an nginx
// serving the same volume read-only to end users with signed links. A second
// volume holds the nginx's access log: nginx writes it, the app follows it for
// metrics and deletes old days.

/** Where both containers mount the access-log volume; the app image makes it writable by nginx's group. */
export const ACCESS_LOG_ROOT = "/var/log/oose";

export interface StoreNodeArgs extends AppContainerArgs {
  nginx: Service;
  nginxImage: pulumi.Input<string>;
  nginxLimits: Limit;
  tls?: { cert: pulumi.Output<string>; key: pulumi.Output<string> };
}

export class StoreNode extends pulumi.ComponentResource {
  readonly volume: docker.Volume;
  readonly logs: docker.Volume;
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
    // Kept like the content: the logs answer billing questions after a redeploy.
    this.logs = new docker.Volume(
      `${name}-logs`,
      { name: `${args.service.container}-logs` },
      { parent: this, provider: ctx.provider, retainOnDelete: true },
    );
    const env = args.env.apply((e): Record<string, string> => ({ ...e, OOSE_ACCESS_LOG__DIR: ACCESS_LOG_ROOT }));
    const logs = { volumeName: this.logs.name, containerPath: ACCESS_LOG_ROOT };
    this.app = appContainer(
      `${name}-app`,
      this,
      { ...args, env },
      {
        volumes: [{ volumeName: this.volume.name, containerPath: DATA_ROOT }, logs],
      },
    );

    const conf = env.apply((env) =>
      renderStoreNginx(
        storeNginxOptions(loadConfig(env), {
          listen: { host: "0.0.0.0", port: args.nginx.port },
          tls: args.tls ? TLS_PATHS : undefined,
        }),
      ),
    );
    this.nginx = new docker.Container(
      `${name}-nginx`,
      {
        ...SERVICE_DEFAULTS,
        ...limits(args.nginxLimits),
        ...placement(args.nginx, ctx),
        ...nginxRun({ conf: pulumi.secret(conf), tls: args.tls }),
        image: args.nginxImage,
        volumes: [{ volumeName: this.volume.name, containerPath: DATA_ROOT, readOnly: true }, logs],
      },
      // After the app: the volumes are first mounted (and so owned) as the app's /data and log folder.
      containerOpts(ctx, this, { dependsOn: [this.app] }),
    );
    this.registerOutputs({
      volume: this.volume.name,
      logs: this.logs.name,
      app: this.app.name,
      nginx: this.nginx.name,
    });
  }
}

import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../../app/config.js";
import { renderStoreNginx, storeNginxOptions } from "../../nginx/store.js";
import { DATA_ROOT } from "../addressing.js";
import type { Service } from "../layout.js";
import type { StackConfig } from "../stack.js";
import { type AppContainerArgs, appContainer } from "./app.js";
import { containerOpts, type HostContext, type Limit, limits, placement, SERVICE_DEFAULTS } from "./common.js";
import { NGINX_HEALTH, nginxRun, TLS_PATHS } from "./nginx.js";

// A store: one disk (a named volume, or a host path where a real disk is
// mounted), the app (ROLE=store) writing into it, and an nginx serving the
// same disk read-only to end users with signed links. A second volume holds
// the nginx's access log: nginx writes it, the app follows it for metrics and
// deletes old days. Volumes are protected: a change that would replace or
// delete one (a renamed prefix, a removed store) fails `pulumi up` instead of
// leaving the store on an empty volume.

/** Where both containers mount the access-log volume; the app image makes it writable by nginx's group. */
export const ACCESS_LOG_ROOT = "/var/log/oose";

export type StoreStorage = StackConfig["storage"][string];

export interface StoreNodeArgs extends AppContainerArgs {
  nginx: Service;
  nginxImage: pulumi.Input<string>;
  nginxLimits: Limit;
  /** The public certificate the store's nginx serves, when the stack has one. */
  publicTls?: { cert: pulumi.Output<string>; key: pulumi.Output<string> };
  storage?: StoreStorage;
}

type Mount = docker.types.input.ContainerVolume;

export class StoreNode extends pulumi.ComponentResource {
  /** The data volume; none when the store has a host path. */
  readonly volume?: docker.Volume;
  readonly logs: docker.Volume;
  readonly app: docker.Container;
  readonly nginx: docker.Container;

  constructor(name: string, args: StoreNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    // A renamed store keeps its resources' state (children follow the component's alias).
    const was = args.storage?.renamedFrom;
    super("oose:index:StoreNode", name, {}, { ...opts, aliases: was ? [{ name: was }] : opts?.aliases });
    const ctx: HostContext = args.ctx;
    // Kept by `pulumi destroy` and guarded against replacement: the content outlives every container.
    const kept = { parent: this, provider: ctx.provider, retainOnDelete: true, protect: true };
    const hostPath = args.storage?.hostPath;
    if (!hostPath)
      this.volume = new docker.Volume(
        `${name}-data`,
        { name: args.storage?.volume ?? `${args.service.container}-data` },
        kept,
      );
    // Kept like the content: the logs answer billing questions after a redeploy.
    this.logs = new docker.Volume(`${name}-logs`, { name: `${args.service.container}-logs` }, kept);
    const data = (readOnly?: boolean): Mount => ({
      ...(this.volume ? { volumeName: this.volume.name } : { hostPath }),
      containerPath: DATA_ROOT,
      ...(readOnly ? { readOnly } : {}),
    });
    const env = args.env.apply((e): Record<string, string> => ({ ...e, OOSE_ACCESS_LOG__DIR: ACCESS_LOG_ROOT }));
    const logs = { volumeName: this.logs.name, containerPath: ACCESS_LOG_ROOT };
    this.app = appContainer(`${name}-app`, this, { ...args, env }, { volumes: [data(), logs] });

    const conf = env.apply((env) =>
      renderStoreNginx(
        storeNginxOptions(loadConfig(env), {
          listen: { host: "0.0.0.0", port: args.nginx.port },
          tls: args.publicTls ? TLS_PATHS : undefined,
          health: NGINX_HEALTH,
        }),
      ),
    );
    this.nginx = new docker.Container(
      `${name}-nginx`,
      {
        ...SERVICE_DEFAULTS,
        ...limits(args.nginxLimits),
        ...placement(args.nginx, ctx),
        ...nginxRun({ conf: pulumi.secret(conf), tls: args.publicTls }),
        image: args.nginxImage,
        volumes: [data(true), logs],
      },
      // After the app: the volumes are first mounted (and so owned) as the app's /data and log folder.
      containerOpts(ctx, this, { dependsOn: [this.app] }),
    );
    this.registerOutputs({
      volume: this.volume?.name ?? hostPath,
      logs: this.logs.name,
      app: this.app.name,
      nginx: this.nginx.name,
    });
  }
}

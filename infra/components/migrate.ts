import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { NODE_TLS } from "../addressing.js";
import { containerOpts, type HostContext, JOB_DEFAULTS, jobSucceeded, secretEnv } from "./common.js";

// `oose migrate up`, once, with the app image and a node's env, after CouchDB
// is set up and Redis is up. A new app image replaces the job, so an upgrade migrates before
// any prism or store is replaced; a failed migration fails the deployment.

export interface MigrateArgs {
  ctx: HostContext;
  /** Container name on the job host. */
  container: string;
  image: pulumi.Input<string>;
  env: pulumi.Output<Record<string, string>>;
  /** Resolves once CouchDB is healthy and set up. */
  couchReady: pulumi.Output<string>;
  /** The cluster CA: the node env names it (OOSE_TLS__CA), and the oose command reads it at start. */
  ca: pulumi.Output<string>;
  /** What the job comes after (Redis: some migrations move purchases into it). */
  dependsOn: pulumi.Resource[];
}

export class Migrate extends pulumi.ComponentResource {
  readonly job: docker.Container;
  /** The job's id once it exited 0. */
  readonly done: pulumi.Output<string>;

  constructor(name: string, args: MigrateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:Migrate", name, {}, opts);
    // Gated on CouchDB without making its id an input, so a CouchDB change alone does not re-run it.
    const env = pulumi.all([args.env, args.couchReady]).apply(([e]) => e);
    this.job = new docker.Container(
      `${name}-job`,
      {
        ...JOB_DEFAULTS,
        image: args.image,
        name: args.container,
        command: ["node", "bin/oose.js", "migrate", "up"],
        envs: secretEnv(env),
        networksAdvanced: [{ name: args.ctx.network.name }],
        uploads: [{ file: NODE_TLS.ca, content: args.ca, permissions: "0444" }],
      },
      containerOpts(args.ctx, this, { dependsOn: args.dependsOn }),
    );
    this.done = jobSucceeded("oose migrate up", this.job);
    this.registerOutputs({ done: this.done });
  }
}

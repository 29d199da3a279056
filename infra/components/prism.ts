import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { type AppContainerArgs, appContainer } from "./app.js";

// A prism: the app container with ROLE=prism. It keeps no data of its own.

export type PrismNodeArgs = AppContainerArgs;

export class PrismNode extends pulumi.ComponentResource {
  readonly app: docker.Container;

  constructor(name: string, args: PrismNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:PrismNode", name, {}, opts);
    this.app = appContainer(`${name}-app`, this, args);
    this.registerOutputs({ app: this.app.name });
  }
}

import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { HostNetwork } from "../layout.js";

// One bridge network per Docker host. On a single host every container talks
// over it by name (Redis and the Sentinels by their fixed addresses, from the
// subnet's lower half); across hosts it still isolates each host's containers
// and traffic between hosts goes through published ports.

export interface NetworkArgs {
  /** Docker network name, the same on every host. */
  name: string;
  providers: Record<string, docker.Provider>;
  /** Hosts whose network has a set subnet. */
  subnets: Record<string, HostNetwork>;
}

export class Network extends pulumi.ComponentResource {
  readonly networks: Record<string, docker.Network>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:Network", name, {}, opts);
    this.networks = Object.fromEntries(
      Object.entries(args.providers).map(([host, provider]) => [
        host,
        new docker.Network(
          `${name}-${host}`,
          {
            name: args.name,
            driver: "bridge",
            labels: [{ label: "oose.stack", value: pulumi.getStack() }],
            ...(args.subnets[host] ? { ipamConfigs: [args.subnets[host]] } : {}),
          },
          { parent: this, provider },
        ),
      ]),
    );
    this.registerOutputs({ networkIds: Object.fromEntries(Object.entries(this.networks).map(([h, n]) => [h, n.id])) });
  }
}

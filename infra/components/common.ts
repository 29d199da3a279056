import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { Host, Limits, StackConfig } from "../stack.js";
import type { Service } from "../layout.js";

// Pieces every container shares: where it runs, how it is reached, limits,
// the host's bind address and log driver, and env/config that may hold secrets.

/** One Docker host: its provider and the OOSE network on it. */
export interface HostContext {
  host: Host;
  provider: docker.Provider;
  network: docker.Network;
  /** The stack's log driver, when one is configured; otherwise the host's own (its daemon.json) applies. */
  logging?: Logging;
}

/** Where a host's published ports bind: its bindAddress, else its address (schema-checked to be an IP then). */
const bindAddress = (h: Host) => h.bindAddress ?? h.address;

export type Logging = NonNullable<StackConfig["logging"]>;

export type Limit = Limits[keyof Limits];

export function limits(l: Limit): Pick<docker.ContainerArgs, "memory" | "cpus"> {
  return { memory: l.memoryMb, cpus: l.cpus === undefined ? undefined : String(l.cpus) };
}

/** Long-running containers: restart on crash or reboot. Logs go to the host's driver unless the stack sets one. */
export const SERVICE_DEFAULTS = {
  restart: "unless-stopped",
} satisfies Partial<docker.ContainerArgs>;

/**
 * One-shot jobs: run once to the end (the provider waits and keeps the logs),
 * never restarted, and without the app image's /livez check.
 */
export const JOB_DEFAULTS = {
  restart: "no",
  mustRun: false,
  attach: true,
  logs: true,
  healthcheck: { tests: ["NONE"] },
} satisfies Partial<docker.ContainerArgs>;

/** Network attachment plus the published port, if any. */
export function placement(s: Service, ctx: HostContext, aliases?: string[]): Partial<docker.ContainerArgs> {
  return {
    name: s.container,
    hostname: s.container,
    networksAdvanced: [{ name: ctx.network.name, aliases, ...(s.ip ? { ipv4Address: s.ip } : {}) }],
    ports: s.published === undefined ? [] : [{ internal: s.port, external: s.published }],
  };
}

type Port = docker.types.input.ContainerPort;

/**
 * What every container on a host shares, whichever component declares it:
 * published ports bound to the host's bindAddress (Docker's published ports
 * bypass host firewalls such as ufw, so never 0.0.0.0 unless configured), and
 * the stack's log driver when one is set.
 */
function hostDefaults(ctx: HostContext): pulumi.ResourceTransformation {
  const ip = bindAddress(ctx.host);
  return ({ type, props, opts }) => {
    if (type !== "docker:index/container:Container") return undefined;
    const ports = pulumi
      .output(props.ports as pulumi.Input<pulumi.Input<Port>[]> | undefined)
      .apply((list) => list?.map((p) => ({ ...p, ip: p.ip ?? ip })));
    const logging = ctx.logging && { logDriver: ctx.logging.driver, logOpts: ctx.logging.options };
    return { props: { ...props, ...(props.ports === undefined ? {} : { ports }), ...logging }, opts };
  };
}

/**
 * Fixed container names mean the old container must go before its replacement
 * starts; the host's defaults apply to every container the options are given to.
 */
export function containerOpts(ctx: HostContext, parent: pulumi.Resource, extra?: pulumi.CustomResourceOptions) {
  return {
    ...extra,
    parent,
    provider: ctx.provider,
    deleteBeforeReplace: true,
    transformations: [hostDefaults(ctx)],
  } satisfies pulumi.CustomResourceOptions;
}

/** KEY=value list for Docker, secret as a whole because some values are. */
export function secretEnv(env: pulumi.Input<Record<string, string>>): pulumi.Output<string[]> {
  return pulumi.secret(pulumi.output(env).apply((e) => Object.entries(e).map(([k, v]) => `${k}=${v}`)));
}

/** Fails the deployment when a one-shot job exits non-zero; resolves to its id for dependents to wait on. */
export function jobSucceeded(what: string, job: docker.Container): pulumi.Output<string> {
  return pulumi.all([job.id, job.exitCode, job.containerLogs]).apply(([id, code, logs]) => {
    if (code !== 0) throw new Error(`${what} exited with ${code}:\n${logs ?? "(no logs)"}`);
    return id;
  });
}

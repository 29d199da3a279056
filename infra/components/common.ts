import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { Host, Limits } from "../stack.js";
import type { Service } from "../layout.js";

// Pieces every container shares: where it runs, how it is reached, limits,
// bounded logs, and env/config that may hold secrets.

/** One Docker host: its provider and the OOSE network on it. */
export interface HostContext {
  host: Host;
  provider: docker.Provider;
  network: docker.Network;
}

export type Limit = Limits[keyof Limits];

export function limits(l: Limit): Pick<docker.ContainerArgs, "memory" | "cpus"> {
  return { memory: l.memoryMb, cpus: l.cpus === undefined ? undefined : String(l.cpus) };
}

/** Long-running containers: restart on crash or reboot, logs that cannot fill the disk. */
export const SERVICE_DEFAULTS = {
  restart: "unless-stopped",
  logDriver: "json-file",
  logOpts: { "max-size": "10m", "max-file": "5" },
} satisfies Partial<docker.ContainerArgs>;

/**
 * One-shot jobs: run once to the end (the provider waits and keeps the logs),
 * never restarted, and without the app image's /healthz check.
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
    networksAdvanced: [{ name: ctx.network.name, aliases }],
    ports: s.published === undefined ? [] : [{ internal: s.port, external: s.published }],
  };
}

/** Fixed container names mean the old container must go before its replacement starts. */
export function containerOpts(ctx: HostContext, parent: pulumi.Resource, extra?: pulumi.CustomResourceOptions) {
  return { ...extra, parent, provider: ctx.provider, deleteBeforeReplace: true } satisfies pulumi.CustomResourceOptions;
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

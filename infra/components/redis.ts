import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
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
import { redisConf, sentinelConf } from "../redis-conf.js";

// HA Redis: a primary, its replicas and the Sentinels, spread over the hosts by
// the layout. Configs are generated and uploaded into /data, where Redis and
// Sentinel may rewrite them on failover. Nothing is published on one host.

export interface RedisHaArgs {
  /** The first is the initial primary. */
  nodes: Service[];
  sentinels: Service[];
  /** Sentinel's name for the set (the app's OOSE_REDIS__NAME). */
  masterName: string;
  hosts: Record<string, HostContext>;
  image: (host: string) => pulumi.Output<string>;
  password: pulumi.Output<string>;
  limits: { redis: Limit; sentinel: Limit };
}

const REDIS_UID = "999";
const ping = (port: number) => ({
  tests: ["CMD-SHELL", `redis-cli -p ${port} ping | grep -q PONG`],
  interval: "5s",
  timeout: "3s",
  retries: 10,
  startPeriod: "10s",
});

export class RedisHa extends pulumi.ComponentResource {
  readonly primary: docker.Container;
  readonly replicas: docker.Container[];
  readonly sentinels: docker.Container[];

  constructor(name: string, args: RedisHaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:RedisHa", name, {}, opts);
    const [first, ...rest] = args.nodes;
    if (!first) throw new Error("RedisHa needs a primary");
    const ctx = (s: Service) => args.hosts[s.host.name]!;
    const upload = (file: string, content: pulumi.Output<string>) => [
      { file, content: pulumi.secret(content), owner: REDIS_UID, group: REDIS_UID, permissions: "0600" },
    ];

    const dataNode = (s: Service, primary?: docker.Container) => {
      const volume = new docker.Volume(
        `${name}-${s.name}-data`,
        { name: `${s.container}-data` },
        { parent: this, provider: ctx(s).provider, retainOnDelete: true },
      );
      const conf = args.password.apply((password) =>
        redisConf({
          port: s.port,
          bind: "0.0.0.0",
          dir: "/data",
          announce: s.reach,
          password,
          primary: primary ? first.reach : undefined,
          maxMemoryMb: args.limits.redis.memoryMb,
        }),
      );
      return new docker.Container(
        `${name}-${s.name}`,
        {
          ...SERVICE_DEFAULTS,
          ...limits(args.limits.redis),
          ...placement(s, ctx(s)),
          image: args.image(s.host.name),
          command: ["redis-server", "/data/redis.conf"],
          // redis-cli in the healthcheck reads the password from here, never from argv.
          envs: secretEnv(args.password.apply((p) => ({ REDISCLI_AUTH: p }))),
          volumes: [{ volumeName: volume.name, containerPath: "/data" }],
          uploads: upload("/data/redis.conf", conf),
          healthcheck: ping(s.port),
          wait: true,
        },
        containerOpts(ctx(s), this, { dependsOn: primary ? [primary] : [] }),
      );
    };
    this.primary = dataNode(first);
    this.replicas = rest.map((s) => dataNode(s, this.primary));

    const quorum = Math.floor(args.sentinels.length / 2) + 1;
    this.sentinels = args.sentinels.map((s) => {
      const conf = args.password.apply((password) =>
        sentinelConf({
          port: s.port,
          bind: "0.0.0.0",
          dir: "/data",
          announce: s.reach,
          name: args.masterName,
          primary: first.reach,
          quorum,
          password,
        }),
      );
      return new docker.Container(
        `${name}-${s.name}`,
        {
          ...SERVICE_DEFAULTS,
          ...limits(args.limits.sentinel),
          ...placement(s, ctx(s)),
          image: args.image(s.host.name),
          command: ["redis-server", "/data/sentinel.conf", "--sentinel"],
          uploads: upload("/data/sentinel.conf", conf),
          healthcheck: ping(s.port),
          wait: true,
        },
        containerOpts(ctx(s), this, { dependsOn: [this.primary] }),
      );
    });
    this.registerOutputs({
      primary: this.primary.name,
      replicas: this.replicas.map((c) => c.name),
      sentinels: this.sentinels.map((c) => c.name),
    });
  }
}

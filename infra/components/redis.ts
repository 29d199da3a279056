import { readFileSync } from "node:fs";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { Service } from "../layout.js";
import { redisConf, sentinelConf, type TlsFiles } from "../redis-conf.js";
import type { ClusterCa } from "./ca.js";
import {
  containerOpts,
  type HostContext,
  type Limit,
  limits,
  placement,
  SERVICE_DEFAULTS,
  secretEnv,
} from "./common.js";

// HA Redis: a primary, its replicas and the Sentinels, spread over the hosts by
// the layout, each on TLS only with a certificate from the cluster CA, Redis
// and Sentinel each behind a password. The generated config is a seed outside
// the data volume; jobs/redis-start.sh makes the live one in the volume from
// it, keeping what Sentinel rewrote on a failover, so a replaced container
// keeps its role. Nothing is published on one host.

export interface RedisHaArgs {
  /** The first is the initial primary. */
  nodes: Service[];
  sentinels: Service[];
  /** Sentinel's name for the set (the app's OOSE_REDIS__NAME). */
  masterName: string;
  hosts: Record<string, HostContext>;
  image: (host: string) => pulumi.Output<string>;
  password: pulumi.Output<string>;
  sentinelPassword: pulumi.Output<string>;
  ca: ClusterCa;
  limits: { redis: Limit; sentinel: Limit };
}

const REDIS_UID = "999";
const ETC = "/etc/oose";
export const REDIS_TLS: TlsFiles = { cert: `${ETC}/tls/node.crt`, key: `${ETC}/tls/node.key`, ca: `${ETC}/tls/ca.crt` };
const START = readFileSync(new URL("../jobs/redis-start.sh", import.meta.url), "utf8");
const ping = (port: number) => ({
  tests: ["CMD-SHELL", `redis-cli --tls --cacert ${REDIS_TLS.ca} -p ${port} ping | grep -q PONG`],
  interval: "5s",
  timeout: "3s",
  retries: 10,
  startPeriod: "10s",
});
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export class RedisHa extends pulumi.ComponentResource {
  readonly primary: docker.Container;
  readonly replicas: docker.Container[];
  readonly sentinels: docker.Container[];

  constructor(name: string, args: RedisHaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:RedisHa", name, {}, opts);
    const [first, ...rest] = args.nodes;
    if (!first) throw new Error("RedisHa needs a primary");
    const addresses = Object.fromEntries(
      [...args.nodes, ...args.sentinels].filter((s) => s.ip).map((s) => [s.container, s.ip!]),
    );
    const ctx = (s: Service) => args.hosts[s.host.name]!;
    const file = (path: string, content: pulumi.Input<string>, permissions: string) => ({
      file: path,
      content,
      owner: REDIS_UID,
      group: REDIS_UID,
      permissions,
    });
    // A certificate for the names and addresses the others dial it by, and loopback for the healthcheck.
    const uploads = (s: Service, kind: "redis" | "sentinel", conf: pulumi.Output<string>) => {
      const dialled = [s.container, "localhost", s.host.address, s.reach.host];
      const cert = args.ca.nodeCertificate(
        `${name}-${s.name}`,
        [...new Set(dialled.filter((a) => !IPV4.test(a)))],
        [...new Set(["127.0.0.1", ...dialled.filter((a) => IPV4.test(a))])],
      );
      return [
        file(`${ETC}/${kind}.conf`, pulumi.secret(conf), "0600"),
        file(`${ETC}/redis-start.sh`, START, "0644"),
        file(REDIS_TLS.cert, cert.cert, "0644"),
        file(REDIS_TLS.key, cert.key, "0600"),
        file(REDIS_TLS.ca, args.ca.cert, "0644"),
      ];
    };
    const volume = (s: Service) =>
      new docker.Volume(
        `${name}-${s.name}-data`,
        { name: `${s.container}-data` },
        // Purchases, sessions and Sentinel's view: protected, so no change starts a node on an empty volume.
        { parent: this, provider: ctx(s).provider, retainOnDelete: true, protect: true },
      );
    const container = (
      s: Service,
      kind: "redis" | "sentinel",
      conf: pulumi.Output<string>,
      extra: Partial<docker.ContainerArgs>,
      dependsOn: pulumi.Resource[],
    ) =>
      new docker.Container(
        `${name}-${s.name}`,
        {
          ...SERVICE_DEFAULTS,
          ...limits(kind === "redis" ? args.limits.redis : args.limits.sentinel),
          ...placement(s, ctx(s)),
          image: args.image(s.host.name),
          command: ["sh", `${ETC}/redis-start.sh`, `${ETC}/${kind}.conf`, `/data/${kind}.conf`, kind],
          volumes: [{ volumeName: volume(s).name, containerPath: "/data" }],
          uploads: uploads(s, kind, conf),
          healthcheck: ping(s.port),
          wait: true,
          ...extra,
        },
        containerOpts(ctx(s), this, { dependsOn }),
      );

    const dataNode = (s: Service, primary?: docker.Container) => {
      const conf = args.password.apply((password) =>
        redisConf({
          port: s.port,
          bind: "0.0.0.0",
          dir: "/data",
          announce: s.reach,
          password,
          primary: primary ? first.reach : undefined,
          maxMemoryMb: args.limits.redis.memoryMb,
          tls: REDIS_TLS,
          addresses,
        }),
      );
      // redis-cli in the healthcheck reads the password from here, never from argv.
      const envs = secretEnv(args.password.apply((p) => ({ REDISCLI_AUTH: p })));
      return container(s, "redis", conf, { envs }, primary ? [primary] : []);
    };
    this.primary = dataNode(first);
    this.replicas = rest.map((s) => dataNode(s, this.primary));

    const quorum = Math.floor(args.sentinels.length / 2) + 1;
    this.sentinels = args.sentinels.map((s) => {
      const conf = pulumi.all([args.password, args.sentinelPassword]).apply(([password, sentinelPassword]) =>
        sentinelConf({
          port: s.port,
          bind: "0.0.0.0",
          dir: "/data",
          announce: s.reach,
          name: args.masterName,
          primary: first.reach,
          quorum,
          password,
          sentinelPassword,
          tls: REDIS_TLS,
          addresses,
        }),
      );
      const envs = secretEnv(args.sentinelPassword.apply((p) => ({ REDISCLI_AUTH: p })));
      return container(s, "sentinel", conf, { envs }, [this.primary]);
    });
    this.registerOutputs({
      primary: this.primary.name,
      replicas: this.replicas.map((c) => c.name),
      sentinels: this.sentinels.map((c) => c.name),
    });
  }
}

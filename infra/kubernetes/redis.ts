import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PORTS } from "../layout.js";
import { redisConf, sentinelConf } from "../redis-conf.js";
import { claim } from "./couchdb.js";
import type { KubeNames } from "./names.js";
import { type Limit, labels, ROLLED, resources } from "./pod.js";

// HA Redis: a StatefulSet of the primary (pod 0) and its replicas, and one of
// the Sentinels, each pod announcing its stable name. The configs come from
// the Docker target's renderers, one per pod, in a Secret (they hold the
// password); an init container copies the pod's own into /data, where Redis
// and Sentinel rewrite it on failover.

export interface KubeRedisArgs {
  names: KubeNames;
  prefix: string;
  masterName: string;
  image: string;
  password: pulumi.Output<string>;
  storage: { className?: string; size: string };
  limits: { redis: Limit; sentinel: Limit };
  requests: { redis: Limit; sentinel: Limit };
  imagePullSecrets: { name: string }[];
}

const REDIS_UID = 999;

export class KubeRedis extends pulumi.ComponentResource {
  readonly redis: k8s.apps.v1.StatefulSet;
  readonly sentinels: k8s.apps.v1.StatefulSet;

  constructor(name: string, a: KubeRedisArgs, opts: pulumi.ComponentResourceOptions) {
    super("oose:kubernetes:Redis", name, {}, opts);
    const o = { parent: this };
    const n = a.names;
    const [primary] = n.redisNodes;
    const quorum = Math.floor(n.sentinels.length / 2) + 1;
    const confs = a.password.apply((password) => ({
      ...Object.fromEntries(
        n.redisNodes.map((node, i) => [
          `${n.redis}-${i}.conf`,
          redisConf({
            port: PORTS.redis,
            bind: "0.0.0.0",
            dir: "/data",
            announce: node,
            password,
            primary: i > 0 ? primary : undefined,
            maxMemoryMb: a.limits.redis.memoryMb,
          }),
        ]),
      ),
      ...Object.fromEntries(
        n.sentinels.map((node, i) => [
          `${n.sentinel}-${i}.conf`,
          sentinelConf({
            port: PORTS.sentinel,
            bind: "0.0.0.0",
            dir: "/data",
            announce: node,
            name: a.masterName,
            primary: primary!,
            quorum,
            password,
          }),
        ]),
      ),
      // redis-cli in the probes reads the password from here, never from argv.
      REDISCLI_AUTH: password,
    }));
    const secret = new k8s.core.v1.Secret(
      `${name}-conf`,
      {
        metadata: { namespace: n.namespace, labels: labels(a.prefix, "redis") },
        stringData: pulumi.secret(confs),
      },
      { ...o, ...ROLLED },
    );
    const set = (
      role: "redis" | "sentinel",
      count: number,
      extra: Partial<k8s.types.input.apps.v1.StatefulSetSpec>,
      dependsOn: pulumi.Resource[] = [],
    ) => {
      const setName = role === "redis" ? n.redis : n.sentinel;
      const port = role === "redis" ? PORTS.redis : PORTS.sentinel;
      const selector = labels(a.prefix, role);
      const conf = `/data/${role}.conf`;
      const ping = {
        exec: { command: ["sh", "-c", `redis-cli -p ${port} ping | grep -q PONG`] },
        periodSeconds: 5,
        timeoutSeconds: 3,
        failureThreshold: 10,
      };
      // Sentinel and the replicas find the others by name before any is ready.
      new k8s.core.v1.Service(
        `${name}-${role}-service`,
        {
          metadata: { name: setName, namespace: n.namespace, labels: selector },
          spec: {
            clusterIP: "None",
            publishNotReadyAddresses: true,
            selector,
            ports: [{ name: role, port, targetPort: port }],
          },
        },
        o,
      );
      const mounts = [{ name: "data", mountPath: "/data" }];
      return new k8s.apps.v1.StatefulSet(
        `${name}-${role}`,
        {
          metadata: { name: setName, namespace: n.namespace, labels: selector },
          spec: {
            serviceName: setName,
            replicas: count,
            selector: { matchLabels: selector },
            template: {
              metadata: { labels: selector },
              spec: {
                imagePullSecrets: a.imagePullSecrets,
                securityContext: { runAsUser: REDIS_UID, runAsGroup: REDIS_UID, fsGroup: REDIS_UID },
                initContainers: [
                  {
                    name: "config",
                    image: a.image,
                    command: ["sh", "-c", `cp "/conf/$(hostname).conf" ${conf} && chmod 0600 ${conf}`],
                    volumeMounts: [...mounts, { name: "conf", mountPath: "/conf", readOnly: true }],
                  },
                ],
                containers: [
                  {
                    name: role,
                    image: a.image,
                    command: ["redis-server", conf, ...(role === "sentinel" ? ["--sentinel"] : [])],
                    env:
                      role === "redis"
                        ? [
                            {
                              name: "REDISCLI_AUTH",
                              valueFrom: { secretKeyRef: { name: secret.metadata.name, key: "REDISCLI_AUTH" } },
                            },
                          ]
                        : [],
                    ports: [{ name: role, containerPort: port }],
                    volumeMounts: mounts,
                    resources: resources(a.limits[role], a.requests[role]),
                    readinessProbe: ping,
                    livenessProbe: { ...ping, failureThreshold: 20 },
                  },
                ],
                volumes: [
                  { name: "conf", secret: { secretName: secret.metadata.name, defaultMode: 0o440 } },
                  ...(role === "sentinel" ? [{ name: "data", emptyDir: {} }] : []),
                ],
              },
            },
            ...extra,
          },
        },
        { ...o, deleteBeforeReplace: true, dependsOn },
      );
    };
    // The primary first: its replicas start against it.
    this.redis = set("redis", n.redisNodes.length, {
      podManagementPolicy: "OrderedReady",
      volumeClaimTemplates: [claim("data", a.storage)],
    });
    this.sentinels = set("sentinel", n.sentinels.length, { podManagementPolicy: "Parallel" }, [this.redis]);
    this.registerOutputs({});
  }
}

import type * as pulumi from "@pulumi/pulumi";
import { type Container, type Limit, resources } from "./pod.js";

// How every OOSE nginx runs in a pod, as in a Docker container: the official
// image as its unprivileged user, the rendered config (prefix-relative paths,
// see nginx/common.ts) and, when it terminates TLS, the TLS Secret's files.

const NGINX_UID = 101;
const PREFIX = "/tmp/nginx";
export const NGINX_CONF = "/etc/oose/nginx.conf";
export const TLS_DIR = "/etc/oose/tls";
/** A kubernetes.io/tls Secret's keys, as mounted. */
export const TLS_PATHS = { cert: `${TLS_DIR}/tls.crt`, key: `${TLS_DIR}/tls.key` };

export interface NginxContainerArgs {
  image: pulumi.Input<string>;
  port: number;
  tls: boolean;
  mounts: Container["volumeMounts"];
  limit: Limit;
  request: Limit;
}

export function nginxContainer(a: NginxContainerArgs): Container {
  const probe = {
    httpGet: { path: "/", port: a.port, scheme: a.tls ? "HTTPS" : "HTTP" },
    periodSeconds: 10,
    timeoutSeconds: 5,
  };
  return {
    name: "nginx",
    image: a.image,
    command: [
      "/bin/sh",
      "-c",
      `mkdir -p ${PREFIX}/logs ${PREFIX}/temp && ln -sf /dev/stderr ${PREFIX}/logs/error.log && ` +
        `exec nginx -p ${PREFIX} -c ${NGINX_CONF} -g 'daemon off;'`,
    ],
    ports: [{ name: "http", containerPort: a.port }],
    volumeMounts: a.mounts,
    resources: resources(a.limit, a.request),
    readinessProbe: probe,
    livenessProbe: { ...probe, failureThreshold: 3 },
    // QUIT lets nginx finish the downloads in flight; the pod's grace period bounds it.
    lifecycle: {
      preStop: {
        exec: {
          command: [
            "/bin/sh",
            "-c",
            `nginx -p ${PREFIX} -c ${NGINX_CONF} -s quit; while [ -e ${PREFIX}/logs/nginx.pid ]; do sleep 1; done`,
          ],
        },
      },
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: NGINX_UID,
      runAsGroup: NGINX_UID,
      allowPrivilegeEscalation: false,
    },
  };
}

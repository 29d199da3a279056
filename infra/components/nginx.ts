import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

// How every OOSE nginx container runs: the official image as its unprivileged
// nginx user, the rendered config (prefix-relative paths, see nginx/common.ts),
// TLS files uploaded readable by that user only, and a health check on the
// config's loopback /livez (plain HTTP, whatever the public port speaks).

const NGINX_UID = "101";
const PREFIX = "/tmp/nginx";
export const NGINX_CONF = "/etc/oose/nginx.conf";
export const TLS_PATHS = { cert: "/etc/oose/tls/cert.pem", key: "/etc/oose/tls/key.pem" };
/** The cluster CA, for an nginx that verifies the nodes it proxies to. */
export const CA_PATH = "/etc/oose/tls/ca.crt";
/** The renderers' `health` server: loopback only, inside the container. */
export const NGINX_HEALTH = { port: 8099 };

export interface NginxFiles {
  conf: pulumi.Input<string>;
  tls?: { cert: pulumi.Output<string>; key: pulumi.Output<string> };
  ca?: pulumi.Output<string>;
}

const readable = (file: string, content: pulumi.Input<string>): docker.types.input.ContainerUpload => ({
  file,
  content,
  owner: "0",
  group: NGINX_UID,
  permissions: "0440",
});

export function nginxRun(files: NginxFiles): Partial<docker.ContainerArgs> {
  return {
    user: `${NGINX_UID}:${NGINX_UID}`,
    entrypoints: ["/bin/sh", "-c"],
    command: [
      `mkdir -p ${PREFIX}/logs ${PREFIX}/temp && ln -sf /dev/stderr ${PREFIX}/logs/error.log && ` +
        `exec nginx -p ${PREFIX} -c ${NGINX_CONF} -g 'daemon off;'`,
    ],
    // QUIT lets nginx finish the downloads in flight.
    stopSignal: "SIGQUIT",
    stopTimeout: 30,
    // wget: busybox's in the official alpine image.
    healthcheck: {
      tests: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${NGINX_HEALTH.port}/livez`],
      interval: "10s",
      timeout: "5s",
      retries: 3,
      startPeriod: "5s",
    },
    wait: true,
    waitTimeout: 60,
    uploads: [
      readable(NGINX_CONF, files.conf),
      ...(files.tls
        ? [readable(TLS_PATHS.cert, files.tls.cert), readable(TLS_PATHS.key, pulumi.secret(files.tls.key))]
        : []),
      ...(files.ca ? [readable(CA_PATH, files.ca)] : []),
    ],
  };
}

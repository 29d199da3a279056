import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { renderFrontNginx } from "../../nginx/front.js";
import { PORTS } from "../layout.js";
import type { KubeNames } from "./names.js";
import { nginxContainer, TLS_DIR, TLS_PATHS } from "./nginx.js";
import { type Limit, labels, ROLLED } from "./pod.js";
import type { KubeStackConfig } from "./stack.js";

// What end users reach: `<domain>` (the prisms) and `<store>.<domain>` (each
// store's nginx). Either one Ingress for all of them, TLS from the TLS Secret
// or from cert-manager, or the front nginx as a Deployment behind a Service
// of its own (the stores then have theirs, see store.ts).

export interface KubeFrontArgs {
  names: KubeNames;
  cfg: Pick<KubeStackConfig, "prefix" | "domain" | "front" | "kubernetes">;
  stores: string[];
  prisms: string[];
  nginxImage: string;
  tlsSecret?: pulumi.Input<string>;
  limit: Limit;
  request: Limit;
  dependsOn: pulumi.Resource[];
}

/** Uploads are streamed (and may be terabytes), downloads too: ingress-nginx must neither buffer nor cap them. */
const STREAMING = {
  "nginx.ingress.kubernetes.io/proxy-body-size": "0",
  "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
  "nginx.ingress.kubernetes.io/proxy-buffering": "off",
  "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
  "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
};

export class KubeFront extends pulumi.ComponentResource {
  readonly ingress?: k8s.networking.v1.Ingress;
  readonly nginx?: k8s.apps.v1.Deployment;

  constructor(name: string, a: KubeFrontArgs, opts: pulumi.ComponentResourceOptions) {
    super("oose:kubernetes:Front", name, {}, opts);
    const o = { parent: this };
    const { cfg, names: n } = a;
    const k = cfg.kubernetes;
    const meta = (what: string, component = "front") => ({
      name: n.name(what),
      namespace: n.namespace,
      labels: labels(cfg.prefix, component),
    });
    const prisms = new k8s.core.v1.Service(
      `${name}-prisms`,
      {
        metadata: meta("prisms", "prism"),
        spec: {
          selector: labels(cfg.prefix, "prism"),
          ports: [{ name: "api", port: PORTS.prism, targetPort: PORTS.prism }],
        },
      },
      o,
    );
    if (k.expose === "ingress") {
      const issuer = k.ingress.certManager;
      const storeHost = (s: string) => `${s}.${cfg.domain}`;
      const hosts = [...(cfg.front ? [cfg.domain] : []), ...a.stores.map(storeHost)];
      const rule = (host: string, service: pulumi.Input<string>, port: number) => ({
        host,
        http: {
          paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: service, port: { number: port } } } }],
        },
      });
      const tls = a.tlsSecret ?? (issuer ? n.name("tls") : undefined);
      this.ingress = new k8s.networking.v1.Ingress(
        `${name}-ingress`,
        {
          metadata: {
            ...meta("front"),
            annotations: {
              ...STREAMING,
              ...(issuer
                ? { [`cert-manager.io/${issuer.kind === "Issuer" ? "issuer" : "cluster-issuer"}`]: issuer.issuer }
                : {}),
              ...k.ingress.annotations,
            },
          },
          spec: {
            ingressClassName: k.ingress.className,
            tls: tls ? [{ hosts, secretName: tls }] : undefined,
            rules: [
              ...(cfg.front ? [rule(cfg.domain, prisms.metadata.name, PORTS.prism)] : []),
              ...a.stores.map((s) => rule(storeHost(s), n.name(s), n.nginxPort)),
            ],
          },
        },
        { ...o, dependsOn: a.dependsOn },
      );
    } else if (cfg.front) {
      const port = a.tlsSecret ? PORTS.nginxTls : PORTS.nginx;
      const conf = new k8s.core.v1.ConfigMap(
        `${name}-conf`,
        {
          metadata: { namespace: n.namespace, labels: labels(cfg.prefix, "front") },
          data: {
            "nginx.conf": renderFrontNginx({
              listen: { host: "0.0.0.0", port },
              prisms: a.prisms.map((p) => ({ host: n.fqdn(n.name(p)), port: PORTS.prism })),
              tls: a.tlsSecret ? TLS_PATHS : undefined,
            }),
          },
        },
        { ...o, ...ROLLED },
      );
      const selector = labels(cfg.prefix, "front");
      this.nginx = new k8s.apps.v1.Deployment(
        `${name}-nginx`,
        {
          metadata: meta("front"),
          spec: {
            replicas: 2,
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
            selector: { matchLabels: selector },
            template: {
              metadata: { labels: selector },
              spec: {
                automountServiceAccountToken: false,
                // nginx's group reads the TLS Secret's files.
                securityContext: { fsGroup: 101 },
                terminationGracePeriodSeconds: 30,
                containers: [
                  nginxContainer({
                    image: a.nginxImage,
                    port,
                    tls: a.tlsSecret !== undefined,
                    mounts: [
                      { name: "conf", mountPath: "/etc/oose/nginx.conf", subPath: "nginx.conf", readOnly: true },
                      ...(a.tlsSecret ? [{ name: "tls", mountPath: TLS_DIR, readOnly: true }] : []),
                    ],
                    limit: a.limit,
                    request: a.request,
                  }),
                ],
                volumes: [
                  { name: "conf", configMap: { name: conf.metadata.name } },
                  ...(a.tlsSecret ? [{ name: "tls", secret: { secretName: a.tlsSecret, defaultMode: 0o440 } }] : []),
                ],
              },
            },
          },
        },
        { ...o, dependsOn: a.dependsOn },
      );
      new k8s.core.v1.Service(
        `${name}-service`,
        {
          metadata: meta("front"),
          spec: {
            type: k.serviceType,
            selector,
            ports: [{ name: "http", port: a.tlsSecret ? 443 : 80, targetPort: port }],
          },
        },
        o,
      );
    }
    this.registerOutputs({});
  }
}

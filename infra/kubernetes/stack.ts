import type * as pulumi from "@pulumi/pulumi";
import { type Static, Type as T } from "@sinclair/typebox";
import { LABEL_PATTERN } from "../../app/config.js";
import { PrismSpec, StoreSpec } from "../../app/topology/model.js";
import { SECRET_KEYS, type SecretKey, StackSchema } from "../stack.js";

// The stack configuration of `target: kubernetes`: the same topology, secrets,
// images, auth and limits as the Docker target, without hosts or host ports
// (the scheduler places pods), plus where and how the cluster runs.

const NAME = LABEL_PATTERN;
const shared = StackSchema.properties;
/** A Kubernetes quantity such as 100Gi or 500M. */
const Quantity = (dflt: string) => T.String({ pattern: "^[0-9]+(\\.[0-9]+)?([EPTGMk]i?|[mu])?$", default: dflt });
const Storage = (size: string) =>
  T.Object({ className: T.Optional(T.String({ minLength: 1 })), size: Quantity(size) }, { default: {} });
const Limit = shared.limits.properties.prism;
/** Without a zone the pod reads its node's topology.kubernetes.io/zone label at start. */
const Placed = { zone: T.Optional(T.String({ minLength: 1 })) };
const Endpoint = T.Object({ host: T.String({ minLength: 1 }), port: T.Integer({ minimum: 1, maximum: 65535 }) });

const KubernetesSchema = T.Object(
  {
    /** A kubeconfig (its contents or a path); unset: the ambient one (KUBECONFIG or ~/.kube/config). */
    kubeconfig: T.Optional(T.String({ minLength: 1 })),
    context: T.Optional(T.String({ minLength: 1 })),
    namespace: T.String({ pattern: NAME, default: "oose" }),
    /** false: the namespace exists already (made by whoever grants this stack its rights). */
    createNamespace: T.Boolean({ default: true }),
    /** The DNS suffix of Services (the kubelet's clusterDomain). */
    clusterDomain: T.String({ pattern: "^[a-z0-9.-]+$", default: "cluster.local" }),
    storage: T.Object({ store: Storage("100Gi"), couchdb: Storage("10Gi"), redis: Storage("1Gi") }, { default: {} }),
    /** ingress: one Ingress for the front and every store; nginx: the front nginx and the store nginxes behind Services of `serviceType`. */
    expose: T.Union([T.Literal("ingress"), T.Literal("nginx")], { default: "ingress" }),
    serviceType: T.Union([T.Literal("LoadBalancer"), T.Literal("NodePort")], { default: "LoadBalancer" }),
    ingress: T.Object(
      {
        className: T.Optional(T.String({ minLength: 1 })),
        annotations: T.Record(T.String(), T.String(), { default: {} }),
        /** TLS certificates issued by cert-manager for the domain and every store's name. */
        certManager: T.Optional(
          T.Object({
            issuer: T.String({ minLength: 1 }),
            kind: T.Union([T.Literal("ClusterIssuer"), T.Literal("Issuer")], { default: "ClusterIssuer" }),
          }),
        ),
      },
      { default: {} },
    ),
    /** required: never two stores on one node; preferred: spread when the scheduler can. Zones are always preferred. */
    storeSpread: T.Union([T.Literal("preferred"), T.Literal("required")], { default: "preferred" }),
    /** Resource requests; limits come from `limits`, and a request left out defaults to the limit. */
    requests: T.Object(
      { prism: Limit, store: Limit, nginx: Limit, couchdb: Limit, redis: Limit, sentinel: Limit },
      { default: {} },
    ),
    imagePullSecrets: T.Array(T.String({ pattern: NAME }), { default: [] }),
  },
  { default: {} },
);

const KubeSpec = T.Object({
  domain: shared.domain,
  replicas: shared.replicas,
  prisms: T.Array(T.Object({ ...T.Omit(PrismSpec, ["host", "zone"]).properties, ...Placed }), { minItems: 1 }),
  stores: T.Array(T.Object({ ...T.Omit(StoreSpec, ["host", "zone"]).properties, ...Placed }), { minItems: 1 }),
  couchdb: T.Object(
    {
      nodes: T.Integer({ minimum: 1, default: 1 }),
      /** An existing CouchDB: nothing of CouchDB is deployed; give its admin as auth.couchdb and couchdbPassword. */
      url: T.Optional(T.String({ pattern: "^https?://" })),
    },
    { default: {} },
  ),
  redis: T.Object(
    {
      name: T.String({ default: "oose" }),
      replicas: T.Integer({ minimum: 0, default: 1 }),
      sentinels: T.Integer({ minimum: 1, default: 3 }),
      /** An existing Redis: its Sentinels, or one redis:// URL; nothing of Redis is deployed. */
      external: T.Optional(
        T.Object({
          sentinels: T.Optional(T.Array(Endpoint, { minItems: 1 })),
          url: T.Optional(T.String({ pattern: "^rediss?://" })),
        }),
      ),
    },
    { default: {} },
  ),
  front: shared.front,
});

/** The secrets of the Docker target but its registry login. */
const K8S_SECRET_KEYS = SECRET_KEYS.filter((k) => k !== "registryPassword") as Exclude<SecretKey, "registryPassword">[];
const Secrets = T.Omit(T.Pick(StackSchema, SECRET_KEYS), ["registryPassword"]);

export const KubeStackSchema = T.Composite([
  KubeSpec,
  T.Object({
    target: T.Literal("kubernetes"),
    prefix: shared.prefix,
    auth: shared.auth,
    images: T.Omit(shared.images, ["registry", "prometheus", "grafana"], { default: {} }),
    limits: T.Omit(shared.limits, ["prometheus", "grafana"], { default: {} }),
    kubernetes: KubernetesSchema,
  }),
  Secrets,
]);

export type KubeParsed = Static<typeof KubeStackSchema>;
export type KubeSecretKey = (typeof K8S_SECRET_KEYS)[number];
export type KubeStackConfig = Omit<KubeParsed, KubeSecretKey> & {
  secrets: Partial<Record<KubeSecretKey, pulumi.Output<string>>>;
  /** TLS from the tlsCert/tlsKey Secret or from cert-manager: every public URL is https. */
  tls: boolean;
};
export { K8S_SECRET_KEYS };

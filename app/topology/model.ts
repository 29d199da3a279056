import { type Static, Type as T } from "@sinclair/typebox";
import { Label } from "../config.js";

// The logical cluster: who runs, where (site/zone/host) and how many copies.
// Renderers (infra/local, infra/) decide addresses; nodeEnv joins the two.

const Placement = { site: T.String({ default: "local" }), zone: T.String(), host: T.String() };

export const PrismSpec = T.Object({ name: Label, ...Placement });
export const StoreSpec = T.Object({ name: Label, prism: Label, ...Placement });

export const ClusterSpecSchema = T.Object({
  domain: T.String({ default: "localhost" }),
  replicas: T.Integer({ minimum: 1, default: 2 }),
  prisms: T.Array(PrismSpec, { minItems: 1 }),
  stores: T.Array(StoreSpec, { minItems: 1 }),
  redis: T.Object(
    {
      name: T.String({ default: "oose" }),
      replicas: T.Integer({ minimum: 0, default: 1 }),
      sentinels: T.Integer({ minimum: 1, default: 3 }),
      hosts: T.Optional(T.Array(T.String(), { minItems: 1 })),
    },
    { default: {} },
  ),
  couchdb: T.Object(
    { nodes: T.Integer({ minimum: 1, default: 1 }), hosts: T.Optional(T.Array(T.String(), { minItems: 1 })) },
    { default: {} },
  ),
  front: T.Boolean({ default: true }),
});

export type ClusterSpec = Static<typeof ClusterSpecSchema>;
export type PrismNode = Static<typeof PrismSpec> & { role: "prism" };
export type StoreNode = Static<typeof StoreSpec> & { role: "store" };
export type ClusterNode = PrismNode | StoreNode;

export function nodesOf(spec: ClusterSpec): ClusterNode[] {
  return [
    ...spec.prisms.map((p) => ({ ...p, role: "prism" as const })),
    ...spec.stores.map((s) => ({ ...s, role: "store" as const })),
  ];
}

/** Problems a schema cannot express: unique names, stores pointing at real prisms. */
export function checkSpec(spec: ClusterSpec): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const n of nodesOf(spec)) {
    if (names.has(n.name)) problems.push(`${n.role} ${n.name}: name is not unique`);
    names.add(n.name);
  }
  const prisms = new Set(spec.prisms.map((p) => p.name));
  for (const s of spec.stores) {
    if (!prisms.has(s.prism)) problems.push(`store ${s.name}: unknown prism ${s.prism}`);
  }
  if (spec.stores.length < spec.replicas)
    problems.push(`replicas ${spec.replicas} exceeds the ${spec.stores.length} stores`);
  return problems;
}

/** The default shape: N prisms, M stores each, each prism's stores in different zones and hosts. */
export function defaultSpec(prisms = 2, storesPerPrism = 2, replicas = 2): ClusterSpec {
  const spec: ClusterSpec = {
    domain: "localhost",
    replicas: Math.min(replicas, prisms * storesPerPrism),
    prisms: [],
    stores: [],
    redis: { name: "oose", replicas: 1, sentinels: 3 },
    couchdb: { nodes: 1 },
    front: true,
  };
  for (let p = 1; p <= prisms; p++) {
    spec.prisms.push({ name: `prism${p}`, site: "local", zone: `zone1`, host: `host-prism${p}` });
    for (let s = 1; s <= storesPerPrism; s++) {
      const n = (p - 1) * storesPerPrism + s;
      spec.stores.push({
        name: `store${n}`,
        prism: `prism${p}`,
        site: "local",
        zone: `zone${s}`,
        host: `host-store${n}`,
      });
    }
  }
  return spec;
}

import * as pulumi from "@pulumi/pulumi";
import { checkSpec } from "../../app/topology/model.js";
import { schemaProblems, StackConfigError } from "../config.js";
import { kubeSpec } from "./names.js";
import { K8S_SECRET_KEYS, type KubeParsed, type KubeStackConfig, KubeStackSchema } from "./stack.js";

// The Kubernetes stack config, checked as the Docker one is: the schema (with
// unknown keys) first, then what needs the whole config, every problem listed.

/** Validates raw `oose:*` values of a `target: kubernetes` stack; throws StackConfigError listing every problem. */
export function parseKubeStackConfig(raw: Record<string, unknown>): KubeStackConfig {
  const { value, problems } = schemaProblems(KubeStackSchema, raw);
  if (problems.length > 0) throw new StackConfigError(problems);
  const parsed = value as KubeParsed;
  const secrets: KubeStackConfig["secrets"] = {};
  const settings: Record<string, unknown> = { ...parsed };
  for (const key of K8S_SECRET_KEYS) {
    const v = parsed[key];
    delete settings[key];
    if (v !== undefined) secrets[key] = pulumi.secret(v);
  }
  const k = parsed.kubernetes;
  const tls = Boolean(parsed.tlsCert && parsed.tlsKey) || k.ingress.certManager !== undefined;
  const cfg = { ...(settings as Omit<KubeParsed, (typeof K8S_SECRET_KEYS)[number]>), secrets, tls };
  const semantic = [...checkSpec(kubeSpec(cfg)), ...kubeProblems(cfg, parsed)];
  if (semantic.length > 0) throw new StackConfigError(semantic);
  return cfg;
}

/** The objects named `<prefix>-<what>` besides the nodes' own. */
const RESERVED = ["app", "tls", "zone", "front", "prisms", "stores", "couchdb", "redis", "sentinel"];

/** Object names: every Kubernetes name derived from a node must stay a DNS label, and clash with no other. */
const nameProblems = (cfg: KubeStackConfig) =>
  [...cfg.prisms, ...cfg.stores].flatMap((n) => [
    ...(`${cfg.prefix}-${n.name}-nginx-0`.length > 63
      ? [`${n.name}: with prefix ${cfg.prefix} its object names pass 63 characters; shorten one`]
      : []),
    ...(RESERVED.some((r) => n.name === r || n.name.startsWith(`${r}-`))
      ? [`${n.name}: the name is taken by the cluster's own objects; rename the node`]
      : []),
  ]);

function kubeProblems(cfg: KubeStackConfig, parsed: KubeParsed): string[] {
  const problems = nameProblems(cfg);
  const k = cfg.kubernetes;
  if (Boolean(parsed.tlsCert) !== Boolean(parsed.tlsKey)) problems.push("tlsCert and tlsKey: set both or neither");
  if (parsed.tlsCert && k.ingress.certManager)
    problems.push("kubernetes.ingress.certManager: cert-manager or tlsCert/tlsKey, not both");
  if (k.ingress.certManager && k.expose !== "ingress")
    problems.push("kubernetes.ingress.certManager: needs expose: ingress (the nginx front takes tlsCert/tlsKey)");
  if (cfg.couchdb.url && !parsed.couchdbPassword)
    problems.push("couchdbPassword: an existing CouchDB (couchdb.url) needs its admin password set");
  const ext = cfg.redis.external;
  if (ext) {
    if (Boolean(ext.sentinels) === Boolean(ext.url)) problems.push("redis.external: set either sentinels or url");
    if (!parsed.redisPassword)
      problems.push("redisPassword: an existing Redis (redis.external) needs its password set");
  }
  return problems;
}

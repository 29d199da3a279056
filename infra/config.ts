import * as pulumi from "@pulumi/pulumi";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseValue } from "../app/config-env.js";
import { checkSpec } from "../app/topology/model.js";
import { ERLANG_PORTS, layoutProblems, planLayout, services } from "./layout.js";
import { type Parsed, SECRET_KEYS, type SecretKey, type StackConfig, StackSchema } from "./stack.js";

// The stack configuration (its shape in stack.ts), read and checked.
// Every `oose:*` key is read raw and validated here, so a typo or a bad value
// fails `pulumi up` with the full list of problems before any resource exists.

export class StackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "StackConfigError";
  }
}

const pathOf = (p: string) =>
  p
    .replace(/^\//, "")
    .replace(/\/(\d+)/g, "[$1]")
    .replaceAll("/", ".") || "(root)";

// A misspelt key would otherwise be ignored silently, at any depth.
function unknownKeys(schema: TSchema, value: unknown, at: string, out: string[]): void {
  if (Array.isArray(value) && schema.items) {
    for (const [i, v] of value.entries()) unknownKeys(schema.items, v, `${at}/${i}`, out);
  }
  if (!schema.properties || typeof value !== "object" || value === null || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const sub = schema.properties[key] as TSchema | undefined;
    if (!sub) out.push(`${pathOf(`${at}/${key}`)}: unknown key`);
    else unknownKeys(sub, v, `${at}/${key}`, out);
  }
}

/** Defaults and conversions applied, then every schema problem and unknown key, by path. */
export function schemaProblems(schema: TSchema, raw: Record<string, unknown>) {
  const value = Value.Convert(schema, Value.Default(schema, structuredClone(raw)));
  const byPath = new Map<string, string>();
  for (const e of Value.Errors(schema, value)) {
    const key = pathOf(e.path);
    if (!byPath.has(key)) byPath.set(key, `${key}: ${e.message}`);
  }
  const problems = [...byPath.values()];
  unknownKeys(schema, value, "", problems);
  return { value, problems: [...new Set(problems)] };
}

/** Validates raw `oose:*` values (keys without the namespace); throws StackConfigError listing every problem. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
  // `target` picks the renderer (infra/target.ts); a Docker stack may name its own.
  const { target, ...rest } = raw;
  const { value, problems } = schemaProblems(StackSchema, rest);
  if (target !== undefined && target !== "docker") problems.unshift("target: expected docker or kubernetes");
  if (problems.length > 0) throw new StackConfigError(problems);

  const parsed = value as Parsed;
  const secrets: StackConfig["secrets"] = {};
  const settings: Record<string, unknown> = { ...parsed };
  for (const key of SECRET_KEYS) {
    const v = parsed[key];
    delete settings[key];
    if (v !== undefined) secrets[key] = pulumi.secret(v);
  }
  const cfg = { ...(settings as Omit<Parsed, SecretKey>), secrets, tls: Boolean(parsed.tlsCert && parsed.tlsKey) };
  const semantic = [...checkSpec(cfg), ...checkPlacement(cfg, parsed)];
  // The layout needs every host to exist, so it is checked once the rest holds.
  if (semantic.length === 0) semantic.push(...layoutProblems(cfg), ...monitoringProblems(cfg));
  if (semantic.length > 0) throw new StackConfigError(semantic);
  return cfg;
}

/** Problems that need the whole config: hosts that exist, distinct names, TLS pairs. */
function checkPlacement(cfg: Omit<StackConfig, "tls">, parsed: Parsed): string[] {
  const problems: string[] = [];
  const hosts = new Set<string>();
  for (const h of cfg.hosts) {
    if (hosts.has(h.name)) problems.push(`hosts: ${h.name} is listed twice`);
    hosts.add(h.name);
  }
  const refs: [string, string | undefined][] = [
    ...cfg.prisms.map((p, i): [string, string] => [`prisms[${i}].host`, p.host]),
    ...cfg.stores.map((s, i): [string, string] => [`stores[${i}].host`, s.host]),
    ...(cfg.redis.hosts ?? []).map((h, i): [string, string] => [`redis.hosts[${i}]`, h]),
    ...(cfg.couchdb.hosts ?? []).map((h, i): [string, string] => [`couchdb.hosts[${i}]`, h]),
    ["frontHost", cfg.frontHost],
    ["monitoring.host", cfg.monitoring.host],
  ];
  for (const [what, host] of refs) {
    if (host !== undefined && !hosts.has(host)) problems.push(`${what}: unknown host ${host}`);
  }
  if (Boolean(parsed.tlsCert) !== Boolean(parsed.tlsKey)) problems.push("tlsCert and tlsKey: set both or neither");
  if (parsed.registryPassword && !cfg.images.registry) problems.push("registryPassword: set images.registry too");
  return problems;
}

/** Where Prometheus and Grafana run. */
export const monitoringHost = (cfg: Pick<StackConfig, "monitoring" | "prisms">) =>
  cfg.monitoring.host ?? cfg.prisms[0]!.host;

/** Prometheus and Grafana publish their ports on the monitoring host: not on a port the cluster publishes there. */
function monitoringProblems(cfg: StackConfig): string[] {
  const m = cfg.monitoring;
  if (!m.enabled) return [];
  const layout = planLayout(cfg);
  const host = monitoringHost(cfg);
  const used = new Map<number, string>();
  for (const s of services(layout))
    if (s.host.name === host && s.published !== undefined) used.set(s.published, `${s.kind} ${s.name}`);
  if (layout.multiHost && layout.couchdb.length > 1 && layout.couchdb.some((s) => s.host.name === host))
    for (const p of ERLANG_PORTS) used.set(p, "couchdb (erlang)");
  const problems: string[] = [];
  for (const kind of ["prometheus", "grafana"]) {
    const container = `${cfg.prefix}-${kind}`;
    if (services(layout).some((s) => s.container === container))
      problems.push(`monitoring: container name ${container} is taken by a node; rename the node`);
  }
  for (const [key, port] of [
    ["prometheusPort", m.prometheusPort],
    ["grafanaPort", m.grafanaPort],
  ] as const) {
    const prior = used.get(port);
    if (prior) problems.push(`monitoring.${key}: port ${port} is published by ${prior} on host ${host}`);
    used.set(port, `monitoring.${key}`);
  }
  return problems;
}

/** Every `<project>:*` key of the current stack, namespace stripped, JSON decoded. */
export function rawStackConfig(project: string): Record<string, unknown> {
  const ns = `${project}:`;
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(ns)) raw[key.slice(ns.length)] = parseValue(value);
  }
  return raw;
}

/** Reads every `<project>:*` key of the current stack and validates it as a Docker stack. */
export function readStackConfig(project = pulumi.getProject()): StackConfig {
  return parseStackConfig(rawStackConfig(project));
}

import { addressBook } from "./addresses.js";
import type { ImageSet } from "./images.js";
import type { Declared, Recording } from "./record.js";

// What the program declared, as podman commands. Pure: every container input
// is either translated or refused, so nothing the program says is silently
// dropped. Image names and name resolution (addresses.ts) are substituted;
// the hosts are emulated (a podman network per host, its published ports
// bound to that host's address).

export interface EmulatedHost {
  name: string;
  /** Where the host's published ports are bound; undefined binds them as declared. */
  address?: string;
  /** The subnet of the host's network, whose gateway is `address`. */
  subnet?: string;
}

export interface Upload {
  file: string;
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

export interface Health {
  /** podman's --health-cmd; undefined when the image's own check applies. */
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export interface ContainerPlan {
  resource: string;
  name: string;
  host: string;
  /** `podman create` arguments, image and command included; env goes in `env`. */
  args: string[];
  env: string[];
  /** Named volumes by mount point: uploads below one land in the volume, as Docker's do. */
  volumes: { name: string; path: string }[];
  uploads: Upload[];
  /** Declared health check timings; the image's are read at run time when undefined. */
  health?: Health | "none";
  /** Wait until healthy (or running, without a check) before dependents start. */
  waitMs?: number;
  /** A one-shot job: run to its end; a non-zero exit fails the deployment. */
  job: boolean;
  /** Containers that must be done first. */
  after: string[];
}

export interface ReplayPlan {
  networks: { resource: string; host: string; name: string; subnet?: string; ipRange?: string }[];
  volumes: { resource: string; host: string; name: string }[];
  containers: ContainerPlan[];
  /** Everything taken from elsewhere than the program, one line each. */
  substitutions: string[];
}

const HANDLED = new Set([
  "name",
  "hostname",
  "image",
  "command",
  "entrypoints",
  "envs",
  "user",
  "labels",
  "networksAdvanced",
  "ports",
  "volumes",
  "uploads",
  "restart",
  "logDriver",
  "logOpts",
  "memory",
  "cpus",
  "init",
  "stopSignal",
  "stopTimeout",
  "healthcheck",
  "wait",
  "waitTimeout",
  "mustRun",
  "attach",
  "logs",
]);

const DOCKER_WAIT_DEFAULT_MS = 60_000;

/** Docker durations: "10s", "1m30s", "500ms". */
export function durationMs(d: unknown, dflt: number): number {
  if (d === undefined || d === null || d === "") return dflt;
  const parts = String(d).match(/(\d+(?:\.\d+)?)(ms|s|m|h)/g);
  if (!parts) throw new Error(`cannot read duration ${String(d)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  return parts.reduce((sum, p) => {
    const [, n, u] = /(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(p)!;
    return sum + Number(n) * unit[u as keyof typeof unit];
  }, 0);
}

type Input = Record<string, unknown>;
const list = (v: unknown) => (Array.isArray(v) ? (v as Input[]) : []);

/** The image kind a declared image resource stands for. */
function imageKind(r: Declared): keyof ImageSet {
  if (r.type === "docker:index/image:Image") return "app";
  const repo = String(r.inputs.name).split("@")[0]!.split(":")[0]!.split("/").pop()!;
  if (repo === "couchdb" || repo === "redis" || repo === "nginx") return repo;
  throw new Error(`image ${r.name}: cannot tell what ${String(r.inputs.name)} is`);
}

export function planReplay(rec: Recording, images: ImageSet, hosts: EmulatedHost[]): ReplayPlan {
  const substitutions: string[] = [];
  const multiHost = hosts.length > 1;
  const hostOf = (r: Declared) => {
    const h = hosts.find((x) => x.name === r.host);
    if (!h) throw new Error(`${r.type} ${r.name}: no emulated host ${r.host}`);
    return h;
  };
  const byType = (t: string) => rec.resources.filter((r) => r.type === t);

  const imageRefs = new Map<string, string>();
  for (const r of [...byType("docker:index/remoteImage:RemoteImage"), ...byType("docker:index/image:Image")]) {
    const kind = imageKind(r);
    // The mocks resolve an image's id to sha256:<resource name>; containers carry that.
    imageRefs.set(`sha256:${r.name}`, images[kind]);
    const declared =
      r.type === "docker:index/image:Image" ? `${String(r.inputs.imageName)} (Dockerfile build)` : r.inputs.name;
    substitutions.push(`image ${String(declared)} on ${r.host}: ${images[kind]}`);
  }

  const networkName = (declared: string, host: string) => (multiHost ? `${declared}--${host}` : declared);
  const networks = byType("docker:index/network:Network").map((r) => {
    const h = hostOf(r);
    const name = networkName(String(r.inputs.name), h.name);
    if (multiHost) substitutions.push(`host ${h.name}: network ${String(r.inputs.name)} is ${name} (${h.subnet})`);
    // The program's own addressing, where it sets one (an emulated host's subnet replaces it).
    const [ipam, ...more] = list(r.inputs.ipamConfigs);
    if (more.length) throw new Error(`network ${r.name}: the replay takes one ipamConfig`);
    if (multiHost || !ipam) return { resource: r.name, host: h.name, name, subnet: h.subnet };
    const ipRange = ipam.ipRange ? { ipRange: String(ipam.ipRange) } : {};
    return { resource: r.name, host: h.name, name, subnet: String(ipam.subnet), ...ipRange };
  });
  const volumes = byType("docker:index/volume:Volume").map((r) => ({
    resource: r.name,
    host: hostOf(r).name,
    name: String(r.inputs.name),
  }));

  const containers = byType("docker:index/container:Container");
  const containerName = new Map(containers.map((r) => [r.name, String(r.inputs.name)]));
  const attachments = containers.flatMap((r) =>
    list(r.inputs.networksAdvanced).map((n) => ({
      container: String(r.inputs.name),
      network: networkName(String(n.name), hostOf(r).name),
      names: [String(r.inputs.name), ...list(n.aliases).map(String)],
      ...(n.ipv4Address ? { ip: String(n.ipv4Address) } : {}),
    })),
  );
  const book = addressBook(attachments, networks);
  for (const n of networks.filter((x) => attachments.some((a) => a.network === x.name))) {
    substitutions.push(`names on ${n.name}: fixed addresses and /etc/hosts entries instead of podman's DNS`);
  }
  const plans = containers.map((r) => translate(r, hostOf(r)));
  for (const h of hosts.filter((x) => x.address && multiHost)) {
    substitutions.push(`host ${h.name}: ports published on all addresses are bound to ${h.address}`);
  }
  return { networks, volumes, containers: plans, substitutions };

  function translate(r: Declared, host: EmulatedHost): ContainerPlan {
    const i = r.inputs;
    const unknown = Object.keys(i).filter((k) => !HANDLED.has(k) && i[k] !== undefined);
    if (unknown.length) throw new Error(`container ${r.name}: the replay cannot take ${unknown.join(", ")}`);
    const image = imageRefs.get(String(i.image));
    if (!image) throw new Error(`container ${r.name}: image ${String(i.image)} is not one the program declared`);
    const args = ["--name", String(i.name)];
    if (i.hostname) args.push("--hostname", String(i.hostname));
    for (const n of list(i.networksAdvanced)) {
      const network = networkName(String(n.name), host.name);
      args.push("--network", network, "--ip", book.ip(String(i.name), network));
      for (const a of list(n.aliases)) args.push("--network-alias", String(a));
      for (const h of book.hosts(network)) args.push("--add-host", h);
    }
    for (const p of list(i.ports)) {
      const ip = p.ip && p.ip !== "0.0.0.0" ? String(p.ip) : (host.address ?? "0.0.0.0");
      args.push("-p", `${ip}:${p.external ?? p.internal}:${p.internal}/${p.protocol ?? "tcp"}`);
    }
    const volumes: ContainerPlan["volumes"] = [];
    for (const v of list(i.volumes)) {
      const source = v.volumeName ?? v.hostPath;
      if (!source) throw new Error(`container ${r.name}: a volume with neither name nor host path`);
      args.push("-v", `${String(source)}:${String(v.containerPath)}${v.readOnly ? ":ro" : ""}`);
      if (v.volumeName) volumes.push({ name: String(v.volumeName), path: String(v.containerPath) });
    }
    for (const l of list(i.labels)) args.push("--label", `${String(l.label)}=${String(l.value)}`);
    if (i.restart) args.push("--restart", String(i.restart));
    if (i.logDriver) args.push("--log-driver", String(i.logDriver));
    for (const [k, v] of Object.entries((i.logOpts as Input | undefined) ?? {}))
      args.push("--log-opt", `${k}=${String(v)}`);
    if (i.memory !== undefined) args.push("--memory", `${Number(i.memory)}m`);
    if (i.cpus !== undefined) args.push("--cpus", String(i.cpus));
    if (i.init) args.push("--init");
    if (i.user) args.push("--user", String(i.user));
    if (i.stopSignal) args.push("--stop-signal", String(i.stopSignal));
    if (i.stopTimeout !== undefined) args.push("--stop-timeout", String(i.stopTimeout));
    const health = healthArgs(r, args);
    if (i.entrypoints) args.push("--entrypoint", JSON.stringify(i.entrypoints));
    args.push(image, ...list(i.command).map(String));

    const job = i.attach === true;
    if (job && i.mustRun !== false) throw new Error(`container ${r.name}: attached but must keep running`);
    const after = r.dependsOn.filter((d) => containerName.has(d)).map((d) => containerName.get(d)!);
    return {
      resource: r.name,
      name: String(i.name),
      host: host.name,
      args,
      env: list(i.envs).map(String),
      volumes,
      uploads: list(i.uploads).map((u) => upload(r, u)),
      health,
      waitMs: i.wait ? Number(i.waitTimeout ?? DOCKER_WAIT_DEFAULT_MS / 1000) * 1000 : undefined,
      job,
      after,
    };
  }
}

function healthArgs(r: Declared, args: string[]): ContainerPlan["health"] {
  const h = r.inputs.healthcheck as Input | undefined;
  if (!h) return undefined;
  const tests = list(h.tests).map(String);
  if (tests[0] === "NONE") {
    args.push("--no-healthcheck");
    return "none";
  }
  if (tests[0] !== "CMD" && tests[0] !== "CMD-SHELL") throw new Error(`container ${r.name}: health test ${tests[0]}`);
  const health: Health = {
    intervalMs: durationMs(h.interval, 30_000),
    timeoutMs: durationMs(h.timeout, 30_000),
    retries: Number(h.retries ?? 3),
    startPeriodMs: durationMs(h.startPeriod, 0),
  };
  args.push(
    "--health-cmd",
    tests[0] === "CMD" ? JSON.stringify(tests.slice(1)) : tests.slice(1).join(" "),
    "--health-interval",
    `${health.intervalMs}ms`,
    "--health-timeout",
    `${health.timeoutMs}ms`,
    "--health-retries",
    String(health.retries),
    "--health-start-period",
    `${health.startPeriodMs}ms`,
  );
  return health;
}

function upload(r: Declared, u: Input): Upload {
  if (u.source) throw new Error(`container ${r.name}: upload of ${String(u.file)} from a source path`);
  const content =
    u.contentBase64 !== undefined
      ? Buffer.from(String(u.contentBase64), "base64")
      : Buffer.from(String(u.content ?? ""));
  const mode = u.permissions ? Number.parseInt(String(u.permissions), 8) : u.executable ? 0o755 : 0o644;
  return { file: String(u.file), content, mode, uid: Number(u.owner ?? 0), gid: Number(u.group ?? 0) };
}

import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { podman } from "./podman.js";
import type { ContainerPlan, Health, ReplayPlan } from "./translate.js";

// Runs a replay plan as the Pulumi engine and the Docker provider would:
// networks and volumes first, then every container once the ones it depends
// on are done (healthy, or exited 0 for a one-shot job), independent ones at
// once. Everything made is written to a state file before it is made, so a
// cleanup after any failure, or after a crash on the next run, finds it.

type Say = (line: string) => void;

interface State {
  containers: string[];
  networks: string[];
  volumes: string[];
  /** iptables FORWARD rules (without -I/-D) that keep the emulated hosts apart. */
  firewall: string[][];
}

export interface Timeline {
  /** ms since the epoch, per container name. */
  started: Record<string, number>;
  done: Record<string, number>;
}

const empty = (): State => ({ containers: [], networks: [], volumes: [], firewall: [] });
const JOB_TIMEOUT_MS = 5 * 60_000;

function readState(file: string): State {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as State;
  } catch {
    return empty();
  }
}

/** Removes everything a replay recorded in `file`, whether or not it finished. */
export async function cleanup(file: string, say: Say): Promise<void> {
  const s = readState(file);
  if (s.containers.length)
    await podman(["rm", "--force", "--time", "5", ...s.containers], { reject: false, timeoutMs: 120_000 });
  for (const rule of s.firewall) await execa("iptables", ["-D", ...rule], { reject: false });
  if (s.networks.length) await podman(["network", "rm", "--force", ...s.networks], { reject: false });
  if (s.volumes.length) await podman(["volume", "rm", "--force", ...s.volumes], { reject: false });
  const total = s.containers.length + s.networks.length + s.volumes.length;
  if (total)
    say(
      `cleanup: removed ${s.containers.length} containers, ${s.networks.length} networks, ${s.volumes.length} volumes`,
    );
  rmSync(file, { force: true });
}

/**
 * As Docker's archive upload: extracted as root into the created container
 * (into a named volume for a path below its mount point), missing parents made
 * root's, each file with its declared owner and mode (podman cp would hand
 * them to the container's user instead).
 */
export async function uploadInto(c: ContainerPlan): Promise<void> {
  const name = c.name;
  const rootfs = (await podman(["mount", name])).stdout.trim();
  const mountpoint = async (volume: string) =>
    (await podman(["volume", "inspect", "--format", "{{.Mountpoint}}", volume])).stdout.trim();
  try {
    for (const u of c.uploads) {
      const file = path.normalize(u.file);
      const volume = c.volumes.find((v) => file.startsWith(`${path.normalize(v.path)}/`));
      const root = volume ? await mountpoint(volume.name) : rootfs;
      const target = path.join(root, volume ? path.relative(volume.path, file) : file);
      if (!target.startsWith(`${root}/`)) throw new Error(`${name}: upload path ${u.file} leaves the container`);
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
      if (!realpathSync(path.dirname(target)).startsWith(root))
        throw new Error(`${name}: ${u.file} leaves the container`);
      writeFileSync(target, u.content);
      chownSync(target, u.uid, u.gid);
      chmodSync(target, u.mode);
    }
  } finally {
    await podman(["umount", name], { reject: false });
  }
}

/** `podman create` with the plan's env (through a file only root reads, never argv), then its uploads. */
export async function create(c: ContainerPlan, envDir: string): Promise<void> {
  const envFile = path.join(envDir, `oose-env-${c.name}`);
  writeFileSync(envFile, c.env.map((e) => `${e}\n`).join(""), { mode: 0o600 });
  try {
    await podman(["create", "--env-file", envFile, ...c.args]);
  } finally {
    rmSync(envFile, { force: true });
  }
  if (c.uploads.length) await uploadInto(c);
}

/** The last lines a container logged, to tell why it failed. */
export async function logsOf(name: string, lines = 40): Promise<string> {
  const r = await podman(["logs", "--tail", String(lines), name], { reject: false });
  return `${r.stdout}\n${r.stderr}`.trim();
}

/** The check a container runs: its own, or its image's (Docker gives durations in ns). */
async function healthOf(c: ContainerPlan): Promise<Health | undefined> {
  if (c.health === "none") return undefined;
  if (c.health) return c.health;
  const r = await podman(["inspect", "--format", "{{json .Config.Healthcheck}}", c.name]);
  const h = JSON.parse(r.stdout || "null") as Record<string, number | string[]> | null;
  if (!h || !Array.isArray(h.Test) || h.Test[0] === "NONE") return undefined;
  const ms = (ns: unknown, dflt: number) => (typeof ns === "number" && ns > 0 ? ns / 1e6 : dflt);
  return {
    intervalMs: ms(h.Interval, 30_000),
    timeoutMs: ms(h.Timeout, 30_000),
    retries: typeof h.Retries === "number" ? h.Retries : 3,
    startPeriodMs: ms(h.StartPeriod, 0),
  };
}

const running = async (name: string) =>
  (await podman(["inspect", "--format", "{{.State.Running}}", name], { reject: false })).stdout.trim() === "true";

/** As the Docker provider's `wait`: healthy (or running, without a check) before waitMs. */
async function waitHealthy(c: ContainerPlan, health: Health | undefined): Promise<void> {
  const deadline = Date.now() + c.waitMs!;
  if (!health) {
    if (await running(c.name)) return;
    throw new Error(`${c.name} is not running:\n${await logsOf(c.name)}`);
  }
  while (Date.now() < deadline) {
    // Docker runs the first check one interval after the start.
    await sleep(Math.min(health.intervalMs, Math.max(0, deadline - Date.now())));
    if (!(await running(c.name))) throw new Error(`${c.name} exited before it was healthy:\n${await logsOf(c.name)}`);
    const r = await podman(["healthcheck", "run", c.name], { reject: false, timeoutMs: health.timeoutMs + 5000 });
    if (r.exitCode === 0) return;
  }
  throw new Error(`${c.name} not healthy within ${c.waitMs} ms:\n${await logsOf(c.name)}`);
}

export async function up(plan: ReplayPlan, file: string, say: Say): Promise<Timeline> {
  await cleanup(file, say);
  mkdirSync(path.dirname(file), { recursive: true });
  const state = empty();
  const note = (change: (s: State) => void) => {
    change(state);
    writeFileSync(file, JSON.stringify(state, null, 2));
  };

  for (const n of plan.networks) {
    note((s) => s.networks.push(n.name));
    const addressing = [...(n.subnet ? ["--subnet", n.subnet] : []), ...(n.ipRange ? ["--ip-range", n.ipRange] : [])];
    await podman(["network", "create", ...addressing, n.name]);
  }
  if (plan.networks.length > 1) await isolate(plan, note);
  for (const v of plan.volumes) {
    note((s) => s.volumes.push(v.name));
    await podman(["volume", "create", v.name]);
  }

  const timeline: Timeline = { started: {}, done: {} };
  const envDir = mkdtempSync(path.join(os.tmpdir(), "oose-replay-env-"));
  const byName = new Map(plan.containers.map((c) => [c.name, c]));
  const runs = new Map<string, Promise<void>>();
  const run = (name: string, via: string[] = []): Promise<void> => {
    if (via.includes(name)) return Promise.reject(new Error(`dependency cycle: ${[...via, name].join(" → ")}`));
    const c = byName.get(name);
    if (!c) return Promise.reject(new Error(`${via.at(-1)} depends on unknown container ${name}`));
    let p = runs.get(name);
    if (!p) {
      p = Promise.all(c.after.map((d) => run(d, [...via, name]))).then(() => start(c));
      runs.set(name, p);
    }
    return p;
  };
  const start = async (c: ContainerPlan) => {
    note((s) => s.containers.push(c.name));
    await create(c, envDir);
    const health = await healthOf(c);
    await podman(["start", c.name]);
    timeline.started[c.name] = Date.now();
    if (c.job) {
      const code = Number((await podman(["wait", c.name], { timeoutMs: JOB_TIMEOUT_MS })).stdout.trim());
      if (code !== 0) throw new Error(`${c.name} exited ${code}:\n${await logsOf(c.name)}`);
      say(`  ${c.name}: exited 0 after ${((Date.now() - timeline.started[c.name]!) / 1000).toFixed(1)} s`);
    } else if (c.waitMs !== undefined) {
      await waitHealthy(c, health);
      say(
        `  ${c.name}: ${health ? "healthy" : "running"} after ${((Date.now() - timeline.started[c.name]!) / 1000).toFixed(1)} s`,
      );
    } else {
      say(`  ${c.name}: started`);
    }
    timeline.done[c.name] = Date.now();
  };
  try {
    await Promise.all(plan.containers.map((c) => run(c.name)));
  } finally {
    rmSync(envDir, { recursive: true, force: true });
  }
  return timeline;
}

/**
 * Hosts reach each other only through published ports: forwarded traffic
 * between two hosts' bridges is dropped unless it was addressed to a published
 * port (DNAT), as between machines.
 */
async function isolate(plan: ReplayPlan, note: (change: (s: State) => void) => void): Promise<void> {
  const bridges: string[] = [];
  for (const n of plan.networks) {
    bridges.push((await podman(["network", "inspect", "--format", "{{.NetworkInterface}}", n.name])).stdout.trim());
  }
  for (const from of bridges) {
    for (const to of bridges.filter((b) => b !== from)) {
      const rule = ["FORWARD", "-i", from, "-o", to, "-m", "conntrack", "!", "--ctstate", "DNAT", "-j", "DROP"];
      note((s) => s.firewall.push(rule));
      await execa("iptables", ["-I", ...rule]);
    }
  }
}

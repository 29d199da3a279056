import path from "node:path";
import { parseArgs } from "node:util";
import { stackConfig } from "../infra/harness.js";
import { endToEnd, type Topology } from "./check.js";
import { backendChecks } from "./check-backends.js";
import { buildImages, ROOT } from "./images.js";
import { type Recording, record } from "./record.js";
import { cleanup, up } from "./replay.js";
import { type EmulatedHost, planReplay } from "./translate.js";

// `npm run test:deploy`: the example stacks' Pulumi programs replayed as podman
// containers on this machine and checked end to end, then removed. Each stack
// is brought up, checked and cleaned up in turn; any failure fails the run
// after the cleanup. `--keep` leaves the last stack chosen running; `--down` only cleans up.

interface Stack {
  name: string;
  file: string;
  /** Whole stack keys replaced: only where the hosts are. */
  settings: Record<string, unknown>;
  hosts: EmulatedHost[];
}

const { values } = parseArgs({
  options: {
    stack: { type: "string", multiple: true },
    keep: { type: "boolean", default: false },
    down: { type: "boolean", default: false },
  },
});

/** The 3-host example on 3 emulated hosts: host i's network is 10.90.i.0/24 and its address the gateway. */
function threeHosts(): Stack {
  const declared = JSON.parse(stackConfig("Pulumi.example-3hosts.yaml")["oose:hosts"]!) as { name: string }[];
  const hosts = declared.map((h, i) => ({ name: h.name, subnet: `10.90.${i + 1}.0/24`, address: `10.90.${i + 1}.1` }));
  return {
    name: "example-3hosts",
    file: "Pulumi.example-3hosts.yaml",
    settings: {
      hosts: hosts.map((h) => ({ name: h.name, docker: "unix:///run/podman/podman.sock", address: h.address })),
    },
    hosts,
  };
}

const STACKS: Stack[] = [
  { name: "example", file: "Pulumi.example.yaml", settings: {}, hosts: [{ name: "local" }] },
  threeHosts(),
];

const say = (line: string) => process.stdout.write(`${line}\n`);
const stateFile = (s: Stack) => path.join(ROOT, "tmp/deploy", `${s.name}.json`);

function topology(s: Stack, rec: Recording): Topology {
  const cfg = {
    ...stackConfig(s.file),
    ...Object.fromEntries(Object.entries(s.settings).map(([k, v]) => [`oose:${k}`, JSON.stringify(v)])),
  };
  const json = <T>(key: string) => JSON.parse(cfg[`oose:${key}`]!) as T;
  const hosts = json<{ name: string; address: string }[]>("hosts");
  const prisms = json<{ host: string }[]>("prisms");
  const container = (resource: string) => {
    const r = rec.resources.find((x) => x.type === "docker:index/container:Container" && x.name === resource);
    if (!r) throw new Error(`the program declares no container ${resource}`);
    return String(r.inputs.name);
  };
  const envOf = (resource: string, key: string) => {
    const r = rec.resources.find((x) => x.name === resource);
    const line = (r?.inputs.envs as string[] | undefined)?.find((e) => e.startsWith(`${key}=`));
    if (!line) throw new Error(`${resource} has no ${key}`);
    return line.slice(key.length + 1);
  };
  const apps = rec.resources
    .filter((r) => (r.inputs.labels as { label: string }[] | undefined)?.some((l) => l.label === "oose.role"))
    .map((r) => String(r.inputs.name));
  return {
    domain: cfg["oose:domain"]!,
    addresses: Object.fromEntries(hosts.map((h) => [h.name, h.address])),
    frontHost: cfg["oose:frontHost"] ?? prisms[0]!.host,
    stores: json("stores"),
    containers: {
      migrate: container("migrate-job"),
      redisPrimary: container("redis-redis1"),
      redisAll: rec.resources
        .filter((r) => r.type === "docker:index/container:Container" && /^(redis|sentinel)/.test(String(r.name)))
        .map((r) => String(r.inputs.name)),
      apps,
      prism: (name) => container(`${name}-app`),
      store: (name) => [container(`${name}-app`), container(`${name}-nginx`)],
      storeApi: (name) => envOf(`${name}-app`, "OOSE_ADVERTISE_URL"),
    },
  };
}

async function replay(s: Stack, images: Awaited<ReturnType<typeof buildImages>>, keep: boolean): Promise<void> {
  const started = Date.now();
  say(`\n== ${s.name} (${s.file})`);
  const rec = await record(s.file, s.settings);
  const plan = planReplay(rec, images, s.hosts);
  say(
    `recorded ${rec.resources.length} resources: ${plan.networks.length} networks, ${plan.volumes.length} volumes, ${plan.containers.length} containers`,
  );
  for (const line of plan.substitutions) say(`  substituted: ${line}`);
  try {
    await up(plan, stateFile(s), say);
    say(`up in ${((Date.now() - started) / 1000).toFixed(0)} s; end-to-end check:`);
    await endToEnd(rec, topology(s, rec), say);
    await backendChecks(plan, say);
    say(`${s.name}: passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    if (!keep) await cleanup(stateFile(s), say);
  }
}

if (process.getuid?.() !== 0) {
  say("test:deploy runs rootful podman and iptables: run it as root (.ci/run does).");
  process.exit(1);
}
const chosen = values.stack?.length ? STACKS.filter((s) => values.stack!.includes(s.name)) : STACKS;
if (values.down) {
  for (const s of STACKS) await cleanup(stateFile(s), say);
} else {
  const images = await buildImages(say);
  let failed = 0;
  for (const s of chosen) {
    await replay(s, images, values.keep && s === chosen.at(-1)).catch((err: Error) => {
      failed++;
      say(`${s.name}: FAILED\n${err.stack ?? err.message}`);
    });
  }
  process.exit(failed ? 1 : 0);
}

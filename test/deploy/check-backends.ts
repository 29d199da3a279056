import assert from "node:assert/strict";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { podman } from "./podman.js";
import { create } from "./replay.js";
import type { ContainerPlan, ReplayPlan } from "./translate.js";

// The backend hops of a replayed cluster, after the end-to-end check (whose
// Redis failover promoted a replica): Redis and Sentinel refuse plain text and
// Sentinel a client without its password; a prism reaches CouchDB over TLS
// verified with the CA file its env names. Then, as an upgrade would, the old
// primary and every Sentinel are replaced by new containers from the same
// plan: the promoted node stays primary and the old one comes back a replica.

type Say = (line: string) => void;
const CA = "/etc/oose/tls/ca.crt";
const SETTLE_MS = 60_000;

const cli = (container: string, port: number, args: string[], auth = true) =>
  podman(
    [
      "exec",
      container,
      ...(auth ? ["redis-cli"] : ["env", "-u", "REDISCLI_AUTH", "redis-cli"]),
      "--tls",
      "--cacert",
      CA,
      "-p",
      String(port),
      ...args,
    ],
    { reject: false, timeoutMs: 15_000 },
  );

async function until(what: string, ok: () => Promise<boolean>, settleMs = SETTLE_MS): Promise<number> {
  const since = Date.now();
  while (!(await ok().catch(() => false))) {
    assert.ok(Date.now() - since < settleMs, `${what}: not within ${settleMs} ms`);
    await sleep(500);
  }
  return Date.now() - since;
}

/** What `pulumi up` does to a replaced container: the old one goes, a new one from the same inputs starts. */
async function replace(c: ContainerPlan): Promise<string> {
  const since = Date.now();
  await podman(["rm", "--force", "--time", "5", c.name], { timeoutMs: 60_000 });
  await create(c, os.tmpdir());
  await podman(["start", c.name]);
  await until(
    `${c.name} healthy`,
    async () => (await podman(["healthcheck", "run", c.name], { reject: false })).exitCode === 0,
  );
  return `${c.name} ${((Date.now() - since) / 1000).toFixed(1)} s`;
}

export async function backendChecks(plan: ReplayPlan, say: Say): Promise<void> {
  const of = (re: RegExp) => plan.containers.filter((c) => re.test(c.resource));
  const redis = of(/^redis-redis\d+$/);
  const sentinels = of(/^redis-sentinel\d+$/);
  const sentinel = sentinels[0]!.name;
  const primaryAddr = async () =>
    (await cli(sentinel, 26379, ["sentinel", "get-master-addr-by-name", "oose"])).stdout.split("\n").join(":");
  const role = async (c: ContainerPlan) => (await cli(c.name, 6379, ["role"])).stdout.split("\n")[0];

  const plainPing = await podman(["exec", redis[0]!.name, "redis-cli", "-p", "6379", "ping"], { reject: false });
  assert.ok(!plainPing.stdout.includes("PONG"), "Redis answers plain text");
  const anonymous = await cli(sentinel, 26379, ["sentinel", "masters"], false);
  assert.match(anonymous.stdout + anonymous.stderr, /NOAUTH/, "Sentinel answers a client without its password");
  const prism = of(/-app$/).find((c) => c.env.some((e) => e === "OOSE_ROLE=prism"))!;
  const couch = `const h=require("node:https");h.get(process.env.OOSE_COUCHDB__URL+"/_up",{ca:require("node:fs").readFileSync(process.env.OOSE_COUCHDB__CA)},r=>process.exit(r.statusCode===200?0:1)).on("error",e=>{console.error(e.message);process.exit(1)})`;
  const couchRun = await podman(["exec", prism.name, "node", "-e", couch], { reject: false });
  assert.equal(couchRun.exitCode, 0, `${prism.name} reaches CouchDB over TLS: ${couchRun.stderr}`);
  say(`  TLS: Redis refuses plain text, Sentinel asks for its password, ${prism.name} verifies CouchDB's certificate`);

  const promoted = await primaryAddr();
  const old = redis[0]!;
  const before = await Promise.all(redis.map(role));
  assert.ok(before[0] !== "master", `the end-to-end failover left ${old.name} primary`);
  const started = Date.now();
  const took = [await replace(old)];
  for (const s of sentinels) took.push(await replace(s));
  // Sentinel converts a returning old primary at one of its 10 s INFO rounds, once the replaced Sentinels
  // have met again: on 3 hosts that took 9–40 s here, so this step gets more room than the others.
  const replica = await until("the old primary a replica again", async () => (await role(old)) === "slave", 120_000);
  took.push(`${old.name} a replica ${(replica / 1000).toFixed(1)} s later`);
  for (const s of sentinels) {
    const addr = async () =>
      (await cli(s.name, 26379, ["sentinel", "get-master-addr-by-name", "oose"])).stdout.split("\n").join(":");
    // A Sentinel just replaced answers nothing until it has loaded its state.
    await until(`${s.name} answers`, async () => (await addr()) !== "");
    assert.equal(await addr(), promoted, `${s.name} names the promoted primary`);
  }
  const after = await Promise.all(redis.map(role));
  assert.deepEqual(
    after,
    before.map((r, i) => (i === 0 ? "slave" : r)),
    "every Redis keeps its role",
  );
  say(
    `  replaced ${old.name} and ${sentinels.length} Sentinels after the failover in ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s (healthy: ${took.join(", ")}): ${promoted} stays primary, ` +
      `${old.name} is a replica`,
  );
}

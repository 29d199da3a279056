import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as settings from "@pulumi/pulumi/runtime/settings.js";
import test from "ava";
import { loadConfig } from "../../app/config.js";
import { type Deployment, deploy, plain, type Recorded, settle } from "./harness.js";
import { container, containers, envOf } from "./invariants.js";

// The backend hops of both example stacks: every CouchDB and Redis/Sentinel
// address a node gets is TLS with the cluster CA, Redis and Sentinel ask for
// passwords, the Redis configs live in the volume and survive an image change,
// and a CouchDB node added later is joined by the setup job.

/** Backend hops a node may reach in plain text, with the reason (docs/deploy.md): none. */
const PLAIN_HOPS: string[] = [];
const STACKS = ["Pulumi.example.yaml", "Pulumi.example-3hosts.yaml"];
const run = promisify(execFile);
/** Every call of the last deployment answered, so the next one in this file starts clean (the SDK's, hence the cast). */
const drained = () => (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
async function deployed(file: string, stack: Record<string, unknown> = {}): Promise<Deployment> {
  const d = await deploy(file, {}, stack);
  await drained();
  return d;
}

interface Upload {
  file: string;
  content: string;
}
const uploads = (c: Recorded) => plain(c.inputs.uploads) as Upload[];
const upload = (c: Recorded, file: string) => uploads(c).find((u) => u.file === file)?.content ?? "";
const redisContainers = (d: Deployment) => containers(d).filter((c) => /^redis-(redis|sentinel)\d+$/.test(c.name));
/** The migration job runs with the first prism's env; every node and job that opens the backends. */
const clients = (d: Deployment) => containers(d).filter((c) => c.name === "migrate-job" || c.name.endsWith("-app"));

for (const file of STACKS) {
  test.serial(`${file}: every CouchDB and Redis/Sentinel address the nodes get is TLS, with passwords`, async (t) => {
    const d = await deployed(file);
    const nodes = clients(d);
    t.true(nodes.length > 2);
    for (const c of nodes) {
      const { couchdb, redis } = loadConfig(envOf(c));
      const plainHops = [
        ...(couchdb.url.startsWith("https://") ? [] : [couchdb.url]),
        ...(redis.url && !redis.url.startsWith("rediss://") ? [redis.url] : []),
        ...(redis.sentinels && !redis.tls ? ["sentinels"] : []),
      ].filter((h) => !PLAIN_HOPS.includes(h));
      t.deepEqual(plainHops, [], c.name);
      t.is(couchdb.ca, "/etc/oose/tls/ca.crt", `${c.name} trusts the cluster CA for CouchDB`);
      t.regex(upload(c, "/etc/oose/tls/ca.crt"), /BEGIN CERTIFICATE/, `${c.name} holds the CA`);
      t.is(redis.tls?.ca, couchdb.ca, `${c.name} trusts the same CA for Redis`);
      t.truthy(redis.password && redis.sentinelPassword, `${c.name} has both Redis passwords`);
      t.not(redis.password, redis.sentinelPassword);
    }
    for (const c of redisContainers(d)) {
      const sentinel = c.name.includes("sentinel");
      const conf = upload(c, `/etc/oose/${sentinel ? "sentinel" : "redis"}.conf`);
      t.regex(conf, /^port 0$/m, `${c.name}: no plain-text port`);
      t.regex(conf, /^tls-port \d+$/m, c.name);
      t.regex(conf, /^tls-replication yes$/m, c.name);
      t.regex(conf, /^protected-mode yes$/m, c.name);
      t.regex(conf, /^requirepass \S+$/m, c.name);
      if (sentinel) t.regex(conf, /^sentinel auth-pass oose \S+$/m, c.name);
      t.regex(upload(c, "/etc/oose/tls/node.crt"), /BEGIN CERTIFICATE/, c.name);
    }
    for (const c of containers(d).filter((x) => /^couchdb-couchdb\d+$/.test(x.name))) {
      t.regex(upload(c, "/opt/couchdb/etc/local.d/10-oose.ini"), /\[ssl\]\nenable = true\nport = 6984/, c.name);
    }
    const creds = (await settle(d.cluster.credentials)) as { redis?: { password: string; sentinelPassword: string } };
    t.deepEqual(
      creds.redis,
      {
        password: loadConfig(envOf(nodes[0]!)).redis.password,
        sentinelPassword: loadConfig(envOf(nodes[0]!)).redis.sentinelPassword,
      },
      "the credentials output holds both Redis passwords",
    );
    const plan = JSON.parse(upload(container(d, "couchdb-setup"), "/tmp/couchdb-setup/plan.json")) as {
      nodes: string[];
    };
    t.true(
      plan.nodes.every((u) => u.startsWith("https://")),
      "the setup job calls CouchDB over TLS",
    );
  });

  test.serial(`${file}: a new Redis image leaves the Redis configs in the volumes alone`, async (t) => {
    const first = await deployed(file);
    const before = redisContainers(first);
    const next = await deployed(file, { images: { redis: "redis:7.4.3-alpine" } });
    const after = redisContainers(next);
    const images = (d: Deployment) => d.resources.filter((r) => /redis/.test(r.name) && /Image/.test(r.type));
    t.notDeepEqual(
      images(next).map((r) => r.inputs.name),
      images(first).map((r) => r.inputs.name),
      "a new image",
    );
    t.is(before.length, after.length);
    // Certificates are made again by the mocks; the provider keeps them in state.
    const seed = (c: Recorded) => uploads(c).filter((u) => !u.file.startsWith("/etc/oose/tls/"));
    for (const [i, c] of before.entries()) {
      t.deepEqual(seed(after[i]!), seed(c), `${c.name}: the same seed`);
      const volume = (plain(c.inputs.volumes) as { containerPath: string }[]).map((v) => v.containerPath);
      t.deepEqual(volume, ["/data"], `${c.name} keeps its live config in a volume`);
      t.true(
        uploads(c).every((u) => !u.file.startsWith("/data/")),
        `${c.name}: nothing is uploaded over what Sentinel rewrote`,
      );
      t.deepEqual((plain(c.inputs.command) as string[]).slice(0, 2), ["sh", "/etc/oose/redis-start.sh"]);
    }
  });
}

test.serial("a CouchDB node added to the stack gets join steps, and the setup job walks only those", async (t) => {
  const d = await deployed("Pulumi.example.yaml", { couchdb: { nodes: 2 } });
  const job = container(d, "couchdb-setup");
  const plan = upload(job, "/tmp/couchdb-setup/plan.json");
  const steps = (JSON.parse(plan) as { steps: { action: string; host?: string; remote_node?: string }[] }).steps;
  t.deepEqual(
    steps.filter((s) => (s.host ?? s.remote_node) === "oose-couchdb2.oose").map((s) => s.action),
    ["enable_cluster", "add_node"],
  );

  // The job against a set-up cluster that lacks couchdb2.
  const posted: { action: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.method === "POST") posted.push(JSON.parse(body));
      const reply =
        req.url === "/_cluster_setup" && req.method === "GET"
          ? { state: "cluster_finished" }
          : req.url === "/_membership"
            ? { cluster_nodes: ["couchdb@oose-couchdb1.oose"] }
            : { ok: true };
      res
        .writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json" })
        .end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-setup-"));
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  writeFileSync(path.join(dir, "plan.json"), JSON.stringify({ ...JSON.parse(plan), nodes: [url], coordinator: url }));
  writeFileSync(path.join(dir, "run.mjs"), upload(job, "/tmp/couchdb-setup/run.mjs"));
  await run("node", [path.join(dir, "run.mjs")], { timeout: 20_000 });
  t.deepEqual(
    posted.map((p) => p.action),
    ["enable_cluster", "add_node"],
  );
});

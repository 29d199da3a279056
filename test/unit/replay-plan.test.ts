import test from "ava";
import ipaddr from "ipaddr.js";
import { type Recording, record } from "../deploy/record.js";
import { durationMs, planReplay } from "../deploy/translate.js";

// The deployment replay's translation of what the Pulumi program declares
// into podman commands: only image names are substituted, secrets stay out
// of argv, nothing declared is dropped, and one-shot jobs are told apart.

const IMAGES = { app: "local/app:1", redis: "local/redis:1", nginx: "local/nginx:1", couchdb: "local/couchdb:1" };
let rec: Recording;

test.before(async () => {
  rec = await record("Pulumi.example.yaml");
});

const plan = () => planReplay(rec, IMAGES, [{ name: "local" }]);
const byName = (name: string) => {
  const c = plan().containers.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
};
const flag = (args: string[], f: string) => args.filter((_, i) => args[i - 1] === f);

test("on one host only images and name resolution are substituted, one line per declared image", (t) => {
  const p = plan();
  t.is(p.substitutions.length, 5);
  t.true(p.substitutions.some((s) => s.startsWith("names on oose: fixed addresses")));
  t.true(p.substitutions.some((s) => s.startsWith("image couchdb:3.4.2 on local: local/couchdb:1")));
  for (const c of p.containers)
    t.true(
      Object.values(IMAGES).some((i) => c.args.includes(i)),
      c.name,
    );
  t.deepEqual(
    p.networks.map((n) => n.name),
    ["oose"],
  );
});

test("env goes to an env file, never to argv: no secret in any command line", (t) => {
  const secrets = Object.values(rec.outputs.credentials).map((c) => c.password);
  for (const c of plan().containers) {
    for (const s of secrets) t.false(c.args.join(" ").includes(s), `${c.name} argv holds a secret`);
  }
  t.true(byName("oose-store1").env.some((e) => e.startsWith("OOSE_AUTH__STORE__PASSWORD=")));
});

test("ports, volumes, health checks and limits are taken as declared", (t) => {
  const nginx = byName("oose-store2-nginx");
  // Published on the host's own address (Pulumi.example.yaml's 127.0.0.1), never on every interface.
  t.deepEqual(flag(nginx.args, "-p"), ["127.0.0.1:8081:8080/tcp"]);
  t.deepEqual(flag(nginx.args, "-v"), ["oose-store2-data:/data:ro", "oose-store2-logs:/var/log/oose"]);
  t.deepEqual(flag(nginx.args, "--stop-signal"), ["SIGQUIT"]);
  t.deepEqual(flag(nginx.args, "--user"), ["101:101"]);
  const couch = byName("oose-couchdb1");
  t.like(couch.health, { intervalMs: 10_000, retries: 6, startPeriodMs: 30_000 });
  t.is(couch.waitMs, 300_000);
  const store = byName("oose-store1");
  t.deepEqual(flag(store.args, "--memory"), ["512m"]);
  t.true(store.args.includes("--init"));
  // App containers declare the liveness check (the image's own is the same /livez).
  t.like(store.health, { intervalMs: 10_000, timeoutMs: 5000, retries: 3, startPeriodMs: 20_000 });
  // Redis gets its config as a seed beside the volume, never inside it (Sentinel's rewrites there survive).
  const uploads = byName("oose-redis1").uploads;
  t.like(uploads[0], { file: "/etc/oose/redis.conf", uid: 999, gid: 999, mode: 0o600 });
  t.like(
    uploads.find((u) => u.file.endsWith("node.key")),
    { mode: 0o600 },
  );
  t.false(
    uploads.some((u) => u.file.startsWith("/data/")),
    "nothing uploaded into the data volume",
  );
});

test("every name on the network is in every container's hosts file, each at its own address in the network's range", (t) => {
  const p = plan();
  const net = p.networks[0]!;
  const range = ipaddr.parseCIDR(net.ipRange!);
  const ipOf = (c: (typeof p.containers)[number]) => flag(c.args, "--ip")[0]!;
  const ips = p.containers.map(ipOf);
  t.is(new Set(ips).size, ips.length, "no address given twice");
  // Declared addresses are kept; the others come from the range Docker would hand out.
  t.is(ipOf(byName("oose-redis1")), "10.213.0.10");
  for (const c of p.containers.filter((x) => !/redis|sentinel/.test(x.name))) {
    t.true(ipaddr.parse(ipOf(c)).match(range), `${c.name} at ${ipOf(c)}`);
    t.not(ipOf(c), "10.213.0.255");
  }
  const expected = p.containers.map((c) => `${c.name}:${ipOf(c)}`);
  const couchAlias = `oose-couchdb1.oose:${ipOf(byName("oose-couchdb1"))}`;
  for (const c of p.containers) {
    const hosts = flag(c.args, "--add-host");
    for (const e of [...expected, couchAlias]) t.true(hosts.includes(e), `${c.name} lacks ${e}`);
  }
});

test("one-shot jobs run to their end; services wait for health; order follows the dependencies", (t) => {
  t.true(byName("oose-migrate").job);
  t.true(byName("oose-couchdb1-setup").job);
  t.false(byName("oose-prism1").job);
  t.true(byName("oose-prism1").after.includes("oose-migrate"));
  t.true(byName("oose-migrate").after.includes("oose-sentinel3"));
  t.deepEqual(byName("oose-store1-nginx").after, ["oose-store1"]);
});

test("an input the replay cannot take is refused, not dropped", (t) => {
  const changed: Recording = {
    ...rec,
    resources: rec.resources.map((r) =>
      r.name === "store1-app" ? { ...r, inputs: { ...r.inputs, privileged: true } } : r,
    ),
  };
  t.throws(() => planReplay(changed, IMAGES, [{ name: "local" }]), { message: /store1-app.*cannot take privileged/ });
});

test("Docker durations", (t) => {
  t.is(durationMs("10s", 0), 10_000);
  t.is(durationMs("1m30s", 0), 90_000);
  t.is(durationMs("500ms", 0), 500);
  t.is(durationMs(undefined, 7), 7);
  t.throws(() => durationMs("soon", 0));
});

import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { Redis } from "ioredis";
import { parseConfig } from "../../app/config.js";
import { openRedis } from "../../app/adapters/redis/index.js";
import { createCa, issueCert } from "../../infra/local/pki.js";
import { redisConf, sentinelConf, type TlsFiles } from "../../infra/redis-conf.js";

// The rendered redis.conf and sentinel.conf run as they are, TLS and passwords
// included, with a CA made here, each started by jobs/redis-start.sh from its
// seed as a container starts: the app's client gets through Sentinel; the
// plain port is closed; after a failover, a primary and a Sentinel restarted
// from their seeds keep what Sentinel rewrote, so the promoted node stays primary.

const START = new URL("../../infra/jobs/redis-start.sh", import.meta.url).pathname;
const PASSWORD = "redis-test-password-1";
const SENTINEL_PASSWORD = "sentinel-test-password-1";
const NAME = "oose";

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(200);
  }
}

test("the rendered configs run with TLS and passwords, and a restart from the seed keeps a failover", async (t) => {
  t.timeout(90_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-redis-conf-"));
  const procs = new Map<string, ReturnType<typeof spawn>>();
  const clients: Redis[] = [];
  t.teardown(() => {
    for (const c of clients) c.disconnect();
    for (const p of procs.values()) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  const ca = await createCa();
  const cert = await issueCert(ca, "redis", ["localhost", "127.0.0.1"]);
  const tls: TlsFiles = {
    cert: path.join(dir, "node.crt"),
    key: path.join(dir, "node.key"),
    ca: path.join(dir, "ca.crt"),
  };
  writeFileSync(tls.cert, cert.cert);
  writeFileSync(tls.key, cert.key, { mode: 0o600 });
  writeFileSync(tls.ca, ca.cert);
  // As the image's entrypoint, minus dropping root.
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(path.join(bin, "docker-entrypoint.sh"), '#!/bin/sh\nexec "$@"\n');
  chmodSync(path.join(bin, "docker-entrypoint.sh"), 0o755);

  const [p1, p2, s1] = [await freePort(), await freePort(), await freePort()];
  const at = (port: number) => ({ host: "127.0.0.1", port });
  const seeds: Record<string, { kind: "redis" | "sentinel"; conf: string }> = {
    redis1: { kind: "redis", conf: redisConf({ port: p1, bind: "127.0.0.1", dir: "", password: PASSWORD, tls }) },
    redis2: {
      kind: "redis",
      conf: redisConf({ port: p2, bind: "127.0.0.1", dir: "", password: PASSWORD, primary: at(p1), tls }),
    },
    sentinel1: {
      kind: "sentinel",
      conf: sentinelConf({
        port: s1,
        bind: "127.0.0.1",
        dir: "",
        name: NAME,
        primary: at(p1),
        quorum: 1,
        password: PASSWORD,
        sentinelPassword: SENTINEL_PASSWORD,
        downAfterMs: 1000,
        failoverTimeoutMs: 5000,
        tls,
      }),
    },
  };
  const start = (name: string) => {
    const data = path.join(dir, name);
    mkdirSync(data, { recursive: true });
    const { kind, conf } = seeds[name]!;
    const seed = path.join(data, "seed.conf");
    writeFileSync(seed, conf.replace(/^dir $/m, `dir ${data}`), { mode: 0o600 });
    const p = spawn("sh", [START, seed, path.join(data, `${kind}.conf`), kind], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      stdio: ["ignore", "ignore", "pipe"],
    });
    procs.set(name, p);
  };
  const stop = async (name: string) => {
    const p = procs.get(name)!;
    const exited = new Promise((resolve) => p.once("exit", resolve));
    p.kill("SIGTERM");
    await exited;
  };
  const client = (port: number, password: string) => {
    const c = new Redis({ port, password, tls: { ca: ca.cert }, lazyConnect: true, maxRetriesPerRequest: 0 });
    c.on("error", () => {});
    clients.push(c);
    return c;
  };
  const role = async (port: number) => {
    const c = client(port, PASSWORD);
    try {
      return String(((await c.call("ROLE")) as unknown[])[0]);
    } finally {
      c.disconnect();
    }
  };
  const sentinel = client(s1, SENTINEL_PASSWORD);
  const master = async () => ((await sentinel.call("SENTINEL", "get-master-addr-by-name", NAME)) as string[])[1];

  for (const name of Object.keys(seeds)) start(name);
  await until("the replica in sync", async () =>
    (await client(p2, PASSWORD).info("replication")).includes("master_link_status:up") ? true : undefined,
  );
  await until("Sentinel sees the primary", async () => ((await master()) === String(p1) ? true : undefined));

  const config = parseConfig({
    role: "prism",
    name: "prism1",
    advertiseUrl: "http://127.0.0.1:1",
    dataRoot: dir,
    couchdb: { url: "http://127.0.0.1:1" },
    redis: {
      sentinels: [at(s1)],
      name: NAME,
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
      tls: { ca: tls.ca },
    },
    auth: { prism: { username: "p", password: "p" }, store: { username: "s", password: "s" } },
    signingKey: "0123456789abcdef0123",
  });
  const app = openRedis(config.redis);
  clients.push(app);
  await app.set("k", "v");
  t.is(await app.get("k"), "v", "the app's client goes through Sentinel over TLS");

  const plainText = new Redis({ port: p1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  plainText.on("error", () => {});
  await t.throwsAsync(plainText.connect(), undefined, "no plain-text port");
  const anonymous = client(s1, "");
  await t.throwsAsync(anonymous.call("SENTINEL", "masters"), { message: /NOAUTH/ }, "Sentinel asks for its password");

  await until("Sentinel knows the replica", async () =>
    ((await sentinel.call("SENTINEL", "replicas", NAME)) as unknown[]).length > 0 ? true : undefined,
  );
  await until("a forced failover", async () =>
    (await sentinel.call("SENTINEL", "failover", NAME)) ? true : undefined,
  );
  await until("redis2 promoted", async () => ((await master()) === String(p2) ? true : undefined));
  await until("redis1 reconfigured as a replica", async () => ((await role(p1)) === "slave" ? true : undefined));

  // As replaced containers: stopped, started again from the same seeds.
  await stop("redis1");
  await stop("sentinel1");
  start("redis1");
  start("sentinel1");
  await until("redis1 back", async () => role(p1));
  t.is(await role(p1), "slave", "the old primary comes back as a replica");
  t.is(await role(p2), "master", "the promoted node stays primary");
  t.is(await until("Sentinel back", master), String(p2), "Sentinel still names the promoted node");
  t.regex(readFileSync(path.join(dir, "redis1", "redis.conf"), "utf8"), /^requirepass /m, "settings from the seed");
  t.truthy(execFileSync("redis-server", ["--version"]).toString().includes("v=7"));
});

test("a config kept from a start that named its peers is rewritten to the seed's fixed addresses", (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-redis-start-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The entrypoint only shows what it was given: the live config is the result.
  writeFileSync(path.join(dir, "docker-entrypoint.sh"), "#!/bin/sh\nexit 0\n");
  chmodSync(path.join(dir, "docker-entrypoint.sh"), 0o755);
  const addresses = { "oose-redis1": "10.213.0.10", "oose-redis2": "10.213.0.11", "oose-sentinel2": "10.213.0.13" };
  const run = (kind: string, seed: string, live: string) => {
    writeFileSync(path.join(dir, "seed.conf"), seed);
    writeFileSync(path.join(dir, "live.conf"), live);
    execFileSync("sh", [START, path.join(dir, "seed.conf"), path.join(dir, "live.conf"), kind], {
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });
    return readFileSync(path.join(dir, "live.conf"), "utf8");
  };
  const primary = { host: "10.213.0.10", port: 6379 };
  const sentinel = run(
    "sentinel",
    sentinelConf({ port: 26379, bind: "0.0.0.0", dir: "/data", name: NAME, primary, quorum: 2, addresses }),
    [
      "sentinel monitor oose oose-redis2 6379 2",
      "sentinel myid 0123456789abcdef0123456789abcdef01234567",
      "sentinel current-epoch 3",
      "sentinel known-replica oose oose-redis1 6379",
      "sentinel known-sentinel oose oose-sentinel2 26379 fedcba9876543210fedcba9876543210fedcba98",
      "",
    ].join("\n"),
  );
  t.regex(sentinel, /^sentinel monitor oose 10\.213\.0\.11 6379 2$/m, "the promoted primary, at its address");
  t.regex(sentinel, /^sentinel known-replica oose 10\.213\.0\.10 6379$/m);
  t.regex(sentinel, /^sentinel known-sentinel oose 10\.213\.0\.13 26379 fedcba98\w+$/m);
  t.regex(sentinel, /^sentinel current-epoch 3$/m);
  t.regex(sentinel, /^sentinel resolve-hostnames no$/m);
  t.notRegex(sentinel, /^[^#].*oose-(redis|sentinel)\d/m, "no setting names a container");

  const redis = run(
    "redis",
    redisConf({ port: 6379, bind: "0.0.0.0", dir: "/data", primary, addresses }),
    "port 6379\nreplicaof oose-redis2 6379\n",
  );
  t.regex(redis, /^replicaof 10\.213\.0\.11 6379$/m, "the role Sentinel gave it, at the primary's address");
  t.is(redis.match(/^replicaof /gm)?.length, 1);
});

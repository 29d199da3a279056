import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type { LookupFunction } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { PrismClient } from "../../packages/client/src/index.js";
import { backupRestore } from "./check-backup.js";
import { nodeHops } from "./check-nodes.js";
import { podman } from "./podman.js";
import type { Recording } from "./record.js";
import { logsOf } from "./replay.js";

// The end-to-end check of a replayed cluster, through its front as a client
// would: log in with the stack's credentials, upload, find 2 copies in
// different zones, buy a purchase, follow the 302 to a store's nginx and get
// the bytes; the migration finished before any node started; the hosts are
// apart; backup and restore run in a prism's container; a Redis failover
// loses no delivery; a stopped store is routed around.

export interface Topology {
  domain: string;
  /** Host name → the address its published ports are bound to. */
  addresses: Record<string, string>;
  frontHost: string;
  stores: { name: string; zone: string; host: string }[];
  /** Container names, by what they are. */
  containers: {
    migrate: string;
    /** The initial Redis primary. */
    redisPrimary: string;
    /** Redis and Sentinel containers: their logs explain a failover that did not happen. */
    redisAll: string[];
    apps: string[];
    prism: (name: string) => string;
    /** A store's app and nginx containers. */
    store: (name: string) => string[];
    /** How the other containers reach a store's API (its advertised URL). */
    storeApi: (name: string) => string;
  };
}

type Say = (line: string) => void;

const REFERRER = "http://replay.example";
const ROUTE_AROUND_MS = 60_000;
const DELIVERIES_AFTER = 20;
const FAILOVER_MS = 60_000;
/** Between deliveries during the failover: 20 a second from one client, under any store nginx's request limit. */
const DELIVERY_PACE_MS = 50;

/** DNS for the emulated hosts: <domain> is the front's host, <store>.<domain> the store's. */
function lookupFor(t: Topology): LookupFunction {
  const names = new Map<string, string>([[t.domain, t.addresses[t.frontHost]!]]);
  for (const s of t.stores) names.set(`${s.name}.${t.domain}`, t.addresses[s.host]!);
  return (hostname, options, callback) => {
    const address = names.get(hostname) ?? (hostname === "localhost" ? "127.0.0.1" : undefined);
    if (!address) return callback(new Error(`replay DNS: no name ${hostname}`) as NodeJS.ErrnoException, "", 4);
    if ((options as { all?: boolean }).all)
      return (callback as never as (e: null, a: object[]) => void)(null, [{ address, family: 4 }]);
    callback(null, address, 4);
  };
}

const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");

/** How long after the containers are live their backends (TLS Sentinels, CouchDB) may take to answer. */
const READY_MS = 60_000;

/** GET /readyz on the node itself (its port and CA from its own env, as the container health check does). */
const READY_PROBE = `
const env = process.env;
const ca = env.OOSE_TLS__CA ? require("node:fs").readFileSync(env.OOSE_TLS__CA) : undefined;
const opts = { host: "127.0.0.1", port: env.OOSE_LISTEN__PORT ?? 5971, path: "/readyz", ca, timeout: 3000 };
const req = require(ca ? "node:https" : "node:http").get(opts, (r) => { r.resume(); console.log(r.statusCode); process.exit(0); });
req.on("timeout", () => req.destroy(new Error("timeout")));
req.on("error", (e) => { console.log("ERR " + (e.code || e.message)); process.exit(0); });`;

/**
 * Containers are healthy once they serve (/livez); a prism takes requests once its backends answer
 * (/readyz), as a load balancer would wait for. Before that a login is a 503 with its code.
 */
async function untilReady(rec: Recording, t: Topology, say: Say): Promise<void> {
  const started = Date.now();
  for (const name of Object.keys(rec.outputs.prismUrls)) {
    const container = t.containers.prism(name);
    const ready = async () =>
      (await podman(["exec", container, "node", "-e", READY_PROBE], { timeoutMs: 15_000 })).stdout.trim();
    for (let last = await ready(); last !== "200"; last = await ready()) {
      if (Date.now() - started > READY_MS) throw new Error(`${name}: /readyz answered ${last} for ${READY_MS} ms`);
      await sleep(250);
    }
  }
  say(
    `  ready: every prism's backends answer, ${((Date.now() - started) / 1000).toFixed(1)} s after the containers were live`,
  );
}

export async function endToEnd(rec: Recording, t: Topology, say: Say): Promise<void> {
  const dispatcher = new Agent({ connect: { lookup: lookupFor(t), timeout: 5000 }, headersTimeout: 15_000 });
  const frontUrl = rec.outputs.frontUrl;
  assert.ok(frontUrl, "the stack has a front");
  const prism = new PrismClient({ baseUrl: frontUrl, dispatcher, timeoutMs: 30_000 });
  try {
    await untilReady(rec, t, say);
    const { couchdb } = rec.outputs.credentials;
    await prism.login(couchdb.username, couchdb.password);
    say(`  logged in at ${frontUrl} as ${couchdb.username}`);

    const data = randomBytes(256 * 1024 + 17);
    const reply = await prism.upload([{ name: "replay.bin", data }]);
    const hash = reply.files.file!.hash;
    assert.equal(hash, sha1(data), "the upload's hash is the content's");
    const where = await prism.detail(hash);
    const holders = where.map.map((m) => m.split(":").pop()!);
    const zones = new Set(holders.map((s) => t.stores.find((x) => x.name === s)?.zone));
    assert.ok(where.count >= 2 && zones.size >= 2, `2 copies in 2 zones, got ${where.map.join(", ")}`);
    say(`  uploaded ${hash.slice(0, 12)}…: copies on ${holders.join(", ")} (zones ${[...zones].join(", ")})`);

    const purchase = await prism.purchase({ hash, ext: "bin", referrer: [REFERRER] });
    const deliver = async () => {
      const location = await prism.locate(prism.deliveryUrl(purchase.token, "replay.bin"), {
        referer: `${REFERRER}/page`,
      });
      const res = await request(location, { dispatcher, headers: { referer: `${REFERRER}/page` } });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { location, status: res.statusCode, ok: res.statusCode === 200 && sha1(body) === hash };
    };
    const first = await deliver();
    assert.ok(first.ok, `delivery: ${first.status} from ${first.location}`);
    say(`  purchase ${purchase.token.slice(0, 8)}…: 302 to ${new URL(first.location).host}, bytes match`);

    await migratedFirst(t, say);
    await backupRestore(t.containers.prism(Object.keys(rec.outputs.prismUrls)[0]!), where.count, say);
    if (Object.keys(t.addresses).length > 1) await hostsApart(t, rec, say);
    await nodeHops(t, rec, say);
    await redisFailover(t, prism, hash, deliver, say);
    // The store that just delivered goes: 20 deliveries in a row elsewhere cannot be the luck of the pick.
    await routesAround(t, new URL(first.location).hostname.split(".")[0]!, deliver, say);
  } finally {
    await dispatcher.close();
  }
}

/** The migration job exited 0 before any prism or store container started (podman's own clock). */
async function migratedFirst(t: Topology, say: Say): Promise<void> {
  const inspect = async (name: string, format: string) =>
    (await podman(["inspect", "--format", format, name])).stdout.trim();
  assert.equal(await inspect(t.containers.migrate, "{{.State.ExitCode}}"), "0", "the migration succeeded");
  const finished = Date.parse(
    await inspect(t.containers.migrate, '{{.State.FinishedAt.Format "2006-01-02T15:04:05.000000000Z07:00"}}'),
  );
  for (const app of t.containers.apps) {
    const started = Date.parse(await inspect(app, '{{.State.StartedAt.Format "2006-01-02T15:04:05.000000000Z07:00"}}'));
    assert.ok(started > finished, `${app} started before the migration finished`);
  }
  say(`  migration exited 0 before the ${t.containers.apps.length} prisms and stores started`);
}

/**
 * The emulated hosts are apart: from a prism, a store on another host answers
 * through its host's published port and not at its container address.
 */
async function hostsApart(t: Topology, rec: Recording, say: Say): Promise<void> {
  const prism = Object.keys(rec.outputs.prismUrls)[0]!;
  const prismHost = new URL(rec.outputs.prismUrls[prism]!).hostname;
  const store = t.stores.find((s) => t.addresses[s.host] !== prismHost);
  assert.ok(store, "a store on another host than the first prism");
  const [storeContainer] = t.containers.store(store.name);
  const direct = (
    await podman(["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", storeContainer!])
  ).stdout.trim();
  const published = new URL(t.containers.storeApi(store.name)).host;
  const answers = async (target: string) => {
    // A TCP connection is the question (the API speaks TLS, for names the container address is not).
    const [host, port] = target.split(":");
    const script = `require("net").connect({host:"${host}",port:${port},timeout:3000}).on("connect",()=>process.exit(0)).on("error",()=>process.exit(1)).on("timeout",()=>process.exit(1))`;
    return (await podman(["exec", t.containers.prism(prism), "node", "-e", script], { reject: false })).exitCode === 0;
  };
  assert.ok(await answers(published), `${prism} reaches ${store.name} at ${published}`);
  assert.ok(
    !(await answers(`${direct}:5972`)),
    `${prism} must not reach ${store.name} at its container address ${direct}`,
  );
  say(`  hosts apart: ${prism} reaches ${store.name} at ${published}, not at ${direct}`);
}

/**
 * The Redis primary's container is killed: Sentinel promotes a replica, the
 * purchase made before keeps delivering throughout, and new purchases are
 * taken again within the bound.
 */
async function redisFailover(
  t: Topology,
  prism: PrismClient,
  hash: string,
  deliver: () => Promise<{ ok: boolean }>,
  say: Say,
): Promise<void> {
  await podman(["kill", t.containers.redisPrimary]);
  const killedAt = Date.now();
  let deliveries = 0;
  let acceptedAt: number | undefined;
  let refused = "";
  while (acceptedAt === undefined || Date.now() - acceptedAt < 2000) {
    if (Date.now() - killedAt > FAILOVER_MS) {
      say(`  no purchase within ${FAILOVER_MS} ms of the kill; the last refusal: ${refused}`);
      await tailLogs(t.containers.redisAll, say);
      assert.fail(`no purchase taken within ${FAILOVER_MS} ms of the kill`);
    }
    const d = await deliver().catch(() => ({ ok: false }));
    assert.ok(d.ok, `a delivery failed ${Date.now() - killedAt} ms into the failover`);
    deliveries++;
    // A browser's pace, not a flood: one client past the store nginx's request limit is refused there.
    await sleep(DELIVERY_PACE_MS);
    if (acceptedAt === undefined) {
      const bought = await prism.purchase({ hash, ext: "bin", referrer: [REFERRER] }).catch((err: Error) => {
        refused = `${(err as { code?: string }).code ?? ""} ${err.message}`;
        return undefined;
      });
      if (bought) acceptedAt = Date.now();
      else await sleep(250);
    }
  }
  say(
    `  killed ${t.containers.redisPrimary}: ${deliveries} deliveries through the failover, none failed; ` +
      `purchases taken again ${((acceptedAt - killedAt) / 1000).toFixed(1)} s after the kill`,
  );
}

/** The last lines each container logged, to tell why a check failed. */
async function tailLogs(containers: string[], say: Say): Promise<void> {
  for (const c of containers) say(`  --- ${c}\n${(await logsOf(c, 25)).replace(/^/gm, "    ")}`);
}

/** A store holding a copy is stopped (app and nginx); deliveries go to the other copies within the bound. */
async function routesAround(
  t: Topology,
  store: string,
  deliver: () => Promise<{ location: string; status: number; ok: boolean }>,
  say: Say,
): Promise<void> {
  const stopped = t.containers.store(store);
  await podman(["stop", "--time", "10", ...stopped], { timeoutMs: 60_000 });
  const deadline = Date.now() + ROUTE_AROUND_MS;
  const since = Date.now();
  let good = 0;
  let failed = 0;
  while (good < DELIVERIES_AFTER) {
    assert.ok(Date.now() < deadline, `deliveries not routed around ${store} within ${ROUTE_AROUND_MS} ms`);
    const d = await deliver().catch(() => ({ location: "", status: 0, ok: false }));
    const toStopped = d.location.includes(`//${store}.`);
    if (d.ok && !toStopped) good++;
    else {
      good = 0;
      failed++;
      await sleep(250);
    }
  }
  say(
    `  stopped ${stopped.join(" + ")}: ${DELIVERIES_AFTER} deliveries in a row from other stores ` +
      `after ${((Date.now() - since) / 1000).toFixed(1)} s (${failed} tried before)`,
  );
}

import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import test from "ava";
import nano from "nano";
import { request } from "undici";
import { type Couch, openCouch } from "../../app/adapters/couch/index.js";
import { addUser, removeUser } from "../../app/adapters/couch/users.js";
import { PrismClient } from "../../packages/client/src/index.js";
import { useCluster } from "../helpers/cluster.js";
import { FOX } from "../helpers/prism.js";
import { ROOT } from "../migrations/helpers.js";

// Logins through a real prism: failed-login limits, ordinary users, sessions
// that end with their user, and passwords that never reach a log file. The
// prism reaches CouchDB through a proxy of this test, and trusts
// X-Forwarded-For from loopback, so each test picks its own client addresses.

const PER_ADDRESS = 6;
const PER_USER = 4;
const cluster = useCluster(test, {
  prisms: 1,
  storesPerPrism: 2,
  replicas: 2,
  http: true,
  extraEnv: (node): Record<string, string> =>
    node.role === "prism" ? { OOSE_LOGIN__PER_ADDRESS: String(PER_ADDRESS), OOSE_LOGIN__PER_USER: String(PER_USER) } : {},
});

/**
 * Between the prism and CouchDB: passes everything through, or answers 500 to
 * logins while `failLogins`. Its session cookies are persistent (an Expires
 * date), as CouchDB 3 sends them; the stand-in's are not, and nano keeps only
 * cookies with an expiry.
 */
async function couchProxy(target: string) {
  const upstream = new URL(target);
  const state = { failLogins: false };
  const server = http.createServer((req, res) => {
    if (state.failLogins && req.method === "POST" && req.url?.startsWith("/_session")) {
      req.resume();
      res.writeHead(500, { "content-type": "application/json" }).end('{"error":"unknown_error","reason":"function_clause"}');
      return;
    }
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (back) => {
        const expires = new Date(Date.now() + 600_000).toUTCString();
        const cookies = back.headers["set-cookie"]?.map((c) => `${c}; Expires=${expires}`);
        res.writeHead(back.statusCode ?? 502, { ...back.headers, ...(cookies ? { "set-cookie": cookies } : {}) });
        back.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state, server };
}

let couch: Couch;
let proxy: Awaited<ReturnType<typeof couchProxy>>;
test.serial.before(async () => {
  const c = cluster();
  couch = openCouch({ url: c.info.couchdb, database: "oose", timeoutMs: 10_000 });
  proxy = await couchProxy(c.info.couchdb);
  c.env.prism1!.OOSE_COUCHDB__URL = proxy.url;
  await c.restart("prism1");
});
test.after.always(async () => {
  await couch?.close();
  proxy?.server.closeAllConnections();
  proxy?.server.close();
});

const prism = () => cluster().info.prisms[0]!.url;

async function login(username: string, password: string, from?: string) {
  const res = await request(`${prism()}/user/login`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(from ? { "x-forwarded-for": from } : {}) },
    body: JSON.stringify({ username, password }),
  });
  const body = (await res.body.json()) as { code?: string; session?: { token: string } };
  return { status: res.statusCode, retryAfter: res.headers["retry-after"], body };
}

async function validate(token: string): Promise<number> {
  const res = await request(`${prism()}/user/session/validate`, { method: "POST", headers: { "x-oose-token": token } });
  await res.body.dump();
  return res.statusCode;
}

async function renew(token: string): Promise<number> {
  const res = await request(`${prism()}/user/session/renew`, { method: "POST", headers: { "x-oose-token": token } });
  await res.body.dump();
  return res.statusCode;
}

/** `oose user …` with the prism's connection settings, but CouchDB direct: this process (and its proxy) waits meanwhile. */
function oose(args: string[], input?: string) {
  const c = cluster();
  const res = spawnSync(process.execPath, [path.join(ROOT, "bin/oose.js"), "user", ...args], {
    input,
    encoding: "utf8",
    env: { ...process.env, ...c.env.prism1, OOSE_COUCHDB__URL: c.info.couchdb, OOSE_LOG_LEVEL: "warn" },
  });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

test.serial("failed logins are limited per user name and per address: 429 with Retry-After", async (t) => {
  await addUser(couch, "carol", "carol-password-1");
  for (let i = 0; i < PER_USER; i++) t.is((await login("carol", "wrong", `10.1.0.${i}`)).status, 401);
  const limited = await login("carol", "carol-password-1", "10.1.0.200");
  t.is(limited.status, 429, "the user name is limited, from any address, right password or not");
  t.like(limited.body, { code: "TOO_MANY_REQUESTS" });
  t.true(Number(limited.retryAfter) > 0, `Retry-After: ${limited.retryAfter}`);

  for (let i = 0; i < PER_ADDRESS; i++) t.is((await login(`nobody${i}`, "wrong", "10.2.0.1")).status, 401);
  const flooded = await login("someone-else", "wrong", "10.2.0.1");
  t.is(flooded.status, 429, "the address is limited, whatever the name");
  t.true(Number(flooded.retryAfter) > 0);
  const admin = cluster().info.admin;
  t.is((await login(admin.username, admin.password, "10.2.0.2")).status, 200, "other addresses and users log in");
});

test.serial("a burst of parallel guesses gets no more tries than the limit", async (t) => {
  await addUser(couch, "gina", "gina-password-1");
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login("gina", `guess-${i}`, `10.4.0.${i}`)));
  const statuses = answers.map((a) => a.status).sort();
  t.is(statuses.filter((s) => s === 401).length, PER_USER, statuses.join(","));
  t.is(statuses.filter((s) => s === 429).length, 20 - PER_USER, statuses.join(","));
});

test.serial("an ordinary user's login leaves the prism's own CouchDB identity alone", async (t) => {
  await addUser(couch, "olive", "olive-password-1");
  // Only CouchDB admins (the nodes, here) may use the inventory: a node acting as olive would be refused.
  const inventory = nano(cluster().info.couchdb).use("oose-inventory");
  await inventory.server.request({ method: "PUT", path: "oose-inventory/_security", body: { members: { roles: ["_admin"] } } });
  t.teardown(() => inventory.server.request({ method: "PUT", path: "oose-inventory/_security", body: {} }));

  const olive = new PrismClient({ baseUrl: prism() });
  const session = await olive.login("olive", "olive-password-1");
  t.deepEqual(session.data.userCtx, { name: "olive", roles: [] });
  const data = Buffer.concat([FOX, randomBytes(16)]);
  const hash = createHash("sha1").update(data).digest("hex");
  const uploaded = await olive.upload([{ name: "olive.txt", data, type: "text/plain" }]);
  t.true(JSON.stringify(uploaded).includes(hash), JSON.stringify(uploaded));
  t.like(await olive.detail(hash), { hash, exists: true });
  t.like(await olive.validate(), { success: "Session valid" });
});

test.serial("changing the password or removing the user ends the user's sessions; renew checks the user", async (t) => {
  t.true(await addUser(couch, "dave", "dave-password-1"));
  const first = (await login("dave", "dave-password-1")).body.session!.token;
  const second = (await login("dave", "dave-password-1")).body.session!.token;
  t.is(await validate(first), 200);
  const passwd = oose(["passwd", "dave", "--password-stdin"], "dave-password-2\n");
  t.is(passwd.code, 0, passwd.err);
  t.is(await validate(first), 401, "a password change ends the sessions");
  t.is(await validate(second), 401);
  t.is((await login("dave", "dave-password-1")).status, 401);
  const third = (await login("dave", "dave-password-2")).body.session!.token;
  t.is(await validate(third), 200);
  const removed = oose(["remove", "dave"]);
  t.is(removed.code, 0, removed.err);
  t.is(await validate(third), 401, "removing the user ends the sessions");

  // Removed behind the prism's back (straight in CouchDB): renew notices.
  t.true(await addUser(couch, "erin", "erin-password-1"));
  const erin = (await login("erin", "erin-password-1")).body.session!.token;
  t.is(await renew(erin), 200);
  t.true(await removeUser(couch, "erin"));
  t.is(await renew(erin), 401);
  t.is(await validate(erin), 401, "a refused renew ends the session");
});

test.serial("a password never reaches a log file, whatever CouchDB answers", async (t) => {
  const c = cluster();
  const canary = `canary-${randomBytes(12).toString("hex")}`;
  t.true(await addUser(couch, "frank", "frank-password-1"));
  t.is((await login("frank", canary, "10.3.0.1")).status, 401, "a wrong password");

  proxy.state.failLogins = true;
  try {
    const failed = await login("frank", canary, "10.3.0.2");
    t.is(failed.status, 503, JSON.stringify(failed.body));
  } finally {
    proxy.state.failLogins = false;
  }

  // CouchDB stopped during a login: the prism's request times out.
  const couchPid = c.procs.couchdb!.pid;
  process.kill(couchPid, "SIGSTOP");
  try {
    t.is((await login("frank", canary, "10.3.0.3")).status, 503);
  } finally {
    process.kill(couchPid, "SIGCONT");
  }

  const logs = c.logs();
  t.regex(logs, /Login failed: CouchDB answered 500/, "the failure itself is logged");
  t.false(logs.includes(canary), "the password is in a log file");
});

import { createHash } from "node:crypto";
import test from "ava";
import {
  assertError,
  basic,
  buildCluster,
  type InProcessCluster,
  PRISM_AUTH,
  testClock,
} from "../helpers/inprocess.js";

// Logins and sessions in-process: /user/login, /user/logout,
// /user/session/validate, /user/session/renew, and the failed-login limits.
// Session lives and login windows run on the memory ports' clock.

const digest = (token: string) => createHash("sha256").update(token).digest("hex");
const ALICE = { username: "alice", password: "alice-password-1" };

const post = (c: InProcessCluster, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  c.prism.inject({ method: "POST", url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

const login = (c: InProcessCluster, body: unknown, headers: Record<string, string> = {}) =>
  post(c, "/user/login", body, headers);

async function withAlice(o: Parameters<typeof buildCluster>[1], t: Parameters<typeof buildCluster>[0]) {
  const c = await buildCluster(t, { stores: 0, ...o });
  await c.backends.users.add(ALICE.username, ALICE.password, ["editor"]);
  return c;
}

// ---- POST /user/login

test.serial("login: 200 with a session; the store keeps only the token's digest", async (t) => {
  const c = await withAlice({}, t);
  const before = Date.now();
  const res = await login(c, ALICE);
  t.is(res.statusCode, 200, res.body);
  t.regex(String(res.headers["content-type"]), /^application\/json/);
  const body = res.json();
  t.is(body.success, "User logged in");
  const { session } = body;
  t.regex(session.token, /^[A-Za-z0-9_-]{43}$/);
  t.is(session.ip, "127.0.0.1");
  t.deepEqual(session.data.userCtx, { name: "alice", roles: ["editor"] });
  t.true(Date.parse(session.data.createdAt) >= before - 1000);
  const stored = await c.backends.sessions.read(digest(session.token));
  t.deepEqual(stored, { ip: session.ip, data: session.data });
  t.is(await c.backends.sessions.read(session.token), undefined, "not under the token itself");
});

test.serial("login: wrong password, unknown user or missing fields are 401 INVALID_CREDENTIALS", async (t) => {
  const c = await withAlice({}, t);
  assertError(t, await login(c, { ...ALICE, password: "wrong" }), 401, "INVALID_CREDENTIALS");
  assertError(t, await login(c, { username: "nobody", password: "x" }), 401, "INVALID_CREDENTIALS");
  assertError(t, await login(c, { username: "alice" }), 401, "INVALID_CREDENTIALS");
  assertError(t, await login(c, {}), 401, "INVALID_CREDENTIALS");
  assertError(t, await login(c, { username: "a".repeat(300), password: "x" }), 400, "BAD_REQUEST");
  assertError(t, await login(c, { username: 1, password: {} }), 400, "BAD_REQUEST");
  const text = await c.prism.inject({
    method: "POST",
    url: "/user/login",
    headers: { "content-type": "application/json" },
    payload: "{not json",
  });
  t.is(text.statusCode, 400, text.body);
  t.truthy(text.json().code);
});

test.serial(
  "login: past perUser failures a user is refused with 429 and retry-after, even with the right password",
  async (t) => {
    const clock = testClock();
    const c = await withAlice({ now: clock.now, prism: { login: { window: 60_000, perUser: 2, perAddress: 30 } } }, t);
    assertError(t, await login(c, { ...ALICE, password: "wrong1" }), 401, "INVALID_CREDENTIALS");
    assertError(t, await login(c, { ...ALICE, password: "wrong2" }), 401, "INVALID_CREDENTIALS");
    const limited = await login(c, ALICE);
    assertError(t, limited, 429, "TOO_MANY_REQUESTS");
    const retryAfter = Number(limited.headers["retry-after"]);
    t.true(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, String(limited.headers["retry-after"]));
    t.is(limited.json().retryAfter, retryAfter);
    // Another user from the same address is not limited by alice's count.
    await c.backends.users.add("bob", "bob-password-1");
    t.is((await login(c, { username: "bob", password: "bob-password-1" })).statusCode, 200);
    // Once the window has passed, alice logs in again.
    clock.advance(60_001);
    t.is((await login(c, ALICE)).statusCode, 200);
  },
);

test.serial("login: past perAddress failures an address is refused, another address is not", async (t) => {
  const c = await withAlice({ prism: { login: { window: 60_000, perUser: 10, perAddress: 2 } } }, t);
  // The prism trusts X-Forwarded-For from loopback (limits.trustProxy), where inject comes from.
  const from = (ip: string) => ({ "x-forwarded-for": ip });
  for (const name of ["u1", "u2"]) {
    assertError(t, await login(c, { username: name, password: "x" }, from("203.0.113.7")), 401, "INVALID_CREDENTIALS");
  }
  const limited = await login(c, ALICE, from("203.0.113.7"));
  assertError(t, limited, 429, "TOO_MANY_REQUESTS");
  t.truthy(limited.headers["retry-after"]);
  const other = await login(c, ALICE, from("203.0.113.8"));
  t.is(other.statusCode, 200, other.body);
  t.is(other.json().session.ip, "203.0.113.8");
});

test.serial("login: a successful login gives its attempt back", async (t) => {
  const c = await withAlice({ prism: { login: { window: 60_000, perUser: 2, perAddress: 30 } } }, t);
  for (let i = 0; i < 4; i++) t.is((await login(c, ALICE)).statusCode, 200);
  assertError(t, await login(c, { ...ALICE, password: "wrong" }), 401, "INVALID_CREDENTIALS");
  t.is((await login(c, ALICE)).statusCode, 200);
});

// ---- POST /user/logout

test.serial("logout: 200 with the user, and the session is gone", async (t) => {
  const c = await withAlice({}, t);
  const token = (await login(c, ALICE)).json().session.token;
  const res = await post(c, "/user/logout", undefined, { "x-oose-token": token });
  t.is(res.statusCode, 200, res.body);
  t.deepEqual(res.json(), { success: "User logged out", data: { userCtx: { name: "alice", roles: ["editor"] } } });
  t.is(await c.backends.sessions.read(digest(token)), undefined);
  assertError(t, await post(c, "/user/session/validate", undefined, { "x-oose-token": token }), 401, "UNAUTHORIZED");
  assertError(t, await post(c, "/user/logout", undefined, { "x-oose-token": token }), 401, "UNAUTHORIZED");
});

test.serial("logout: no token, a malformed or an unknown one is a 401", async (t) => {
  const c = await withAlice({}, t);
  assertError(t, await post(c, "/user/logout"), 401, "UNAUTHORIZED");
  assertError(t, await post(c, "/user/logout", undefined, { "x-oose-token": "bad" }), 401, "UNAUTHORIZED");
  assertError(t, await post(c, "/user/logout", undefined, { "x-oose-token": "B".repeat(43) }), 401, "UNAUTHORIZED");
  // Basic auth is no session to end.
  assertError(t, await post(c, "/user/logout", undefined, { authorization: basic(PRISM_AUTH) }), 401, "UNAUTHORIZED");
});

// ---- POST /user/session/validate

test.serial("validate: a session token answers the session; the prism's basic auth answers without one", async (t) => {
  const c = await withAlice({}, t);
  const session = (await login(c, ALICE)).json().session;
  const res = await post(c, "/user/session/validate", undefined, { "x-oose-token": session.token });
  t.is(res.statusCode, 200, res.body);
  t.deepEqual(res.json(), { success: "Session valid", session });
  const admin = await post(c, "/user/session/validate", undefined, { authorization: basic(PRISM_AUTH) });
  t.is(admin.statusCode, 200);
  t.deepEqual(admin.json(), { success: "Session valid" });
});

test.serial("validate: no credentials, a bad or an expired token is a 401", async (t) => {
  const clock = testClock();
  const c = await withAlice({ now: clock.now, prism: { session: { life: 60_000 } } }, t);
  const token = (await login(c, ALICE)).json().session.token;
  assertError(t, await post(c, "/user/session/validate"), 401, "UNAUTHORIZED");
  assertError(t, await post(c, "/user/session/validate", undefined, { "x-oose-token": "x" }), 401, "UNAUTHORIZED");
  const wrong = { authorization: basic({ ...PRISM_AUTH, password: "nope" }) };
  assertError(t, await post(c, "/user/session/validate", undefined, wrong), 401, "UNAUTHORIZED");
  clock.advance(60_001);
  assertError(t, await post(c, "/user/session/validate", undefined, { "x-oose-token": token }), 401, "UNAUTHORIZED");
});

// ---- POST /user/session/renew

test.serial("renew: 200 with the session, whose life starts again", async (t) => {
  const clock = testClock();
  const c = await withAlice({ now: clock.now, prism: { session: { life: 60_000 } } }, t);
  const session = (await login(c, ALICE)).json().session;
  const headers = { "x-oose-token": session.token };
  clock.advance(50_000);
  const res = await post(c, "/user/session/renew", undefined, headers);
  t.is(res.statusCode, 200, res.body);
  t.deepEqual(res.json(), { success: "Session renewed", session });
  // 100 s after login, 50 s after the renewal: alive only because it was renewed.
  clock.advance(50_000);
  t.is((await post(c, "/user/session/validate", undefined, headers)).statusCode, 200);
  clock.advance(10_001);
  assertError(t, await post(c, "/user/session/validate", undefined, headers), 401, "UNAUTHORIZED");
});

test.serial("renew: a removed user's session is refused and ended; no or an unknown token is a 401", async (t) => {
  const c = await withAlice({}, t);
  const token = (await login(c, ALICE)).json().session.token;
  await c.backends.users.remove("alice");
  assertError(t, await post(c, "/user/session/renew", undefined, { "x-oose-token": token }), 401, "UNAUTHORIZED");
  t.is(await c.backends.sessions.read(digest(token)), undefined);
  assertError(t, await post(c, "/user/session/renew"), 401, "UNAUTHORIZED");
  assertError(
    t,
    await post(c, "/user/session/renew", undefined, { "x-oose-token": "C".repeat(43) }),
    401,
    "UNAUTHORIZED",
  );
});

import test from "ava";
import { assertError, basic, buildCluster, PRISM_AUTH, uploadFile } from "../helpers/inprocess.js";

// The web console in-process: its page and scripts with their
// Content-Security-Policy, and the cluster view's JSON behind a session with
// the admin role (or the prism's basic auth).

const get = (c: Awaited<ReturnType<typeof buildCluster>>, url: string, headers: Record<string, string> = {}) =>
  c.prism.inject({ method: "GET", url, headers });

test("the page and its scripts come from the prism, under a strict CSP, without credentials", async (t) => {
  const c = await buildCluster(t, { stores: 0 });
  for (const url of ["/console", "/console/"]) {
    const page = await get(c, url);
    t.is(page.statusCode, 200, url);
    t.regex(String(page.headers["content-type"]), /^text\/html/);
    const csp = String(page.headers["content-security-policy"]);
    t.regex(csp, /default-src 'none'/);
    t.regex(csp, /script-src 'self'(;|$)/);
    t.notRegex(csp, /unsafe/);
    t.notRegex(page.body, /<script>|style=/);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    t.deepEqual(assets.sort(), ["/console/console.css", "/console/main.mjs"]);
  }
  const css = await get(c, "/console/console.css");
  t.is(css.statusCode, 200);
  t.regex(String(css.headers["content-type"]), /^text\/css/);
  for (const script of ["main.mjs", "api.mjs", "cluster.mjs", "content.mjs", "dom.mjs"]) {
    const res = await get(c, `/console/${script}`);
    t.is(res.statusCode, 200, script);
    t.regex(String(res.headers["content-type"]), /^text\/javascript/, script);
    t.is(res.headers["x-content-type-options"], "nosniff");
  }
  // The token never goes in a URL or a cookie: the scripts send it as X-OOSE-Token.
  const api = (await get(c, "/console/api.mjs")).body;
  t.regex(api, /x-oose-token/);
  t.notRegex(api, /document\.cookie/);
  assertError(t, await get(c, "/console/nothing.mjs"), 404, "NOT_FOUND");
  assertError(t, await get(c, "/console/..%2Fpage.ts"), 404, "NOT_FOUND");
});

test("cluster JSON: 401 without a session, 403 for a session without the admin role", async (t) => {
  const c = await buildCluster(t, { stores: 1 });
  assertError(t, await get(c, "/console/api/cluster"), 401, "UNAUTHORIZED");
  assertError(t, await get(c, "/console/api/cluster", { "x-oose-token": "x".repeat(43) }), 401, "UNAUTHORIZED");
  const user = await c.login("bob", "bob-password-1", ["editor"]);
  assertError(t, await get(c, "/console/api/cluster", { "x-oose-token": user }), 403, "FORBIDDEN");
});

test("cluster JSON for an admin (or the prism's basic auth): stores with liveness, copies, jobs", async (t) => {
  const c = await buildCluster(t, { stores: 2 });
  const admin = await c.login("root", "root-password-1", ["admin"]);
  await uploadFile(c, { token: admin });
  const auths: Record<string, string>[] = [{ "x-oose-token": admin }, { authorization: basic(PRISM_AUTH) }];
  for (const headers of auths) {
    const res = await get(c, "/console/api/cluster", headers);
    t.is(res.statusCode, 200, res.body);
    const s = res.json();
    t.is(s.seenBy, "prism1");
    t.deepEqual(
      s.stores.map((st: { name: string; live: boolean }) => [st.name, st.live]),
      [
        ["store1", true],
        ["store2", true],
      ],
    );
    t.is(s.replicas, 2);
    t.like(s.inventory, { hashes: 1, copies: 2, underReplicated: 0, unavailable: 0 });
    t.deepEqual(
      s.stores.map((st: { copies: number }) => st.copies),
      [1, 1],
    );
    t.is(s.heal, null);
    t.deepEqual(s.errors, []);
    t.deepEqual(s.votes, []);
  }
});

test("cluster JSON: the prism's recent failures, by route, with what the client was told", async (t) => {
  const c = await buildCluster(t, { stores: 0 });
  const token = await c.login("root", "root-password-1", ["admin"]);
  // No store to place on: a 503 the console lists.
  await t.throwsAsync(uploadFile(c, { token }), { message: /^upload 503/ });
  const res = await get(c, "/console/api/cluster", { "x-oose-token": token });
  t.is(res.statusCode, 200, res.body);
  const [failure, ...rest] = res.json().errors;
  t.like(failure, { method: "POST", url: "/content/upload", status: 503, code: "NO_PLACEMENT" });
  t.true(failure.error.length > 0);
  t.deepEqual(rest, []);
});

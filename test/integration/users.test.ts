import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { ROOT, useServices } from "../migrations/helpers.js";

// `oose user …` against the CouchDB stand-in: the accounts prisms log in with.

const services = useServices(test);

function oose(args: string[], input?: string) {
  // passwd and remove end the user's sessions, in Redis.
  const redis = ["passwd", "remove"].includes(args[0]!) ? ["--redis", services().redisUrl] : [];
  const res = spawnSync(process.execPath, [path.join(ROOT, "bin/oose.js"), "user", ...args, "--couchdb", services().couchUrl, ...redis], {
    cwd: os.tmpdir(),
    input,
    encoding: "utf8",
    env: { ...process.env, OOSE_LOG_LEVEL: "warn" },
  });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

async function canLogIn(name: string, password: string): Promise<boolean> {
  const res = await fetch(`${services().couchUrl}/_session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password }),
  });
  return res.ok;
}

test.serial("add, list, passwd and remove a user", async (t) => {
  const added = oose(["add", "alice", "--password-stdin", "--roles", "ops"], "correct horse battery\n");
  t.is(added.code, 0, added.err);
  t.true(await canLogIn("alice", "correct horse battery"));

  t.is(oose(["add", "alice", "--password-stdin"], "another password\n").code, 1, "a taken name is refused");
  t.deepEqual(JSON.parse(oose(["list", "--json"]).out), [{ name: "alice", roles: ["ops"] }]);

  const generated = oose(["passwd", "alice"]);
  t.is(generated.code, 0);
  const password = /password of alice: (\S+)/.exec(generated.out)?.[1];
  t.truthy(password);
  t.true(await canLogIn("alice", password!));
  t.false(await canLogIn("alice", "correct horse battery"));

  t.is(oose(["remove", "alice"]).code, 0);
  t.false(await canLogIn("alice", password!));
  t.is(oose(["remove", "alice"]).code, 1, "removing a missing user fails");
});

test.serial("passwd and remove refuse to run without Redis, so no session outlives the change", (t) => {
  const res = spawnSync(process.execPath, [path.join(ROOT, "bin/oose.js"), "user", "remove", "alice", "--couchdb", services().couchUrl], {
    cwd: os.tmpdir(),
    encoding: "utf8",
    env: { ...process.env, OOSE_LOG_LEVEL: "warn" },
  });
  t.is(res.status, 1);
  t.regex(res.stderr, /Redis is needed/);
});

test.serial("bad names and short passwords are refused", (t) => {
  t.not(oose(["add", "../evil", "--password-stdin"], "long enough password\n").code, 0);
  t.not(oose(["add", "bob", "--password-stdin"], "short\n").code, 0);
});

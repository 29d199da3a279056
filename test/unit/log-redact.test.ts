import { spawnSync } from "node:child_process";
import test from "ava";
import { ensureBuilt } from "../../scripts/build.mjs";
import { ROOT } from "../migrations/helpers.js";

// Errors of backend libraries carry what they sent; none of it reaches a log line
// of the compiled code the nodes run.

test.before(() => ensureBuilt());

const SCRIPT = `
import { logger } from "./dist/app/log.js";
import { BackendUnavailable } from "./dist/app/errors.js";
const log = logger("test");
const couch = Object.assign(new Error("couch returned 500"), {
  statusCode: 500,
  request: {
    method: "post",
    url: "http://node:NODE-SECRET@couch:5984/_session",
    body: JSON.stringify({ name: "bob", password: "USER-SECRET" }),
    headers: { Authorization: "Basic NODE-SECRET", cookie: "AuthSession=COOKIE-SECRET" },
  },
  headers: { "set-cookie": "AuthSession=COOKIE-SECRET" },
});
log.error({ err: couch }, "direct");
log.error({ err: new BackendUnavailable("wrapped", undefined, couch) }, "wrapped");
log.error({ error: couch, cause: couch }, "other keys");
const redis = Object.assign(new Error("ERR auth"), { command: { name: "auth", args: ["REDIS-SECRET"] } });
log.error({ err: redis }, "redis");
`;

test("request bodies, headers, cookies and URL credentials of backend errors are not logged", (t) => {
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", SCRIPT], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, OOSE_LOG_LEVEL: "info" },
  });
  t.is(res.status, 0, res.stderr);
  const lines = res.stdout.trim().split("\n");
  t.is(lines.length, 4, res.stdout);
  for (const secret of ["NODE-SECRET", "USER-SECRET", "COOKIE-SECRET", "REDIS-SECRET"])
    t.false(res.stdout.includes(secret), secret);
  const direct = JSON.parse(lines[0]!);
  t.like(direct.err, { message: "couch returned 500", statusCode: 500, request: { method: "post" } });
  t.regex(direct.err.request.url, /_session$/, "the request line stays, for the operator");
});

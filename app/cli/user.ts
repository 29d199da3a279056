import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { openCouch } from "../adapters/couch/index.js";
import { CouchUsers } from "../adapters/couch/users.js";
import { openRedis } from "../adapters/redis/index.js";
import { RedisSessions } from "../adapters/redis/sessions.js";
import { cliLogger } from "../log.js";
import { addConnectionOptions, type ConnectionFlags, defineCommand, loadToolConfig, redisPrefix } from "./common.js";

// `oose user add|remove|passwd|list`: the API users prisms log in with.
// Passwords come from --password-stdin (so they stay out of shell history) or
// are generated and printed once. Removing a user or changing a password ends
// the user's sessions, so these two need Redis as well as CouchDB.

interface PasswordFlags extends ConnectionFlags {
  passwordStdin?: boolean;
  roles?: string;
  json?: boolean;
}

const NAME = /^[A-Za-z0-9._@-]{1,128}$/;

function password(flags: PasswordFlags): { value: string; generated: boolean } {
  if (!flags.passwordStdin) return { value: randomBytes(18).toString("base64url"), generated: true };
  const value = readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (value.length < 8) throw new Error("password: at least 8 characters");
  return { value, generated: false };
}

async function withUsers<T>(flags: ConnectionFlags, fn: (users: CouchUsers) => Promise<T>) {
  const config = loadToolConfig(flags).couchdb;
  const couch = openCouch(config);
  try {
    return await fn(new CouchUsers(couch, config));
  } finally {
    await couch.close();
  }
}

/** Runs `change` (on CouchDB); when it did something, ends the user's sessions and answers how many. */
async function thenEndSessions(flags: ConnectionFlags, name: string, change: () => Promise<boolean>) {
  const config = loadToolConfig(flags);
  if (!config.redis)
    throw new Error("Redis is needed to end the user's sessions (--redis, --sentinels or OOSE_REDIS__*)");
  if (!(await change())) return undefined;
  const redis = openRedis(config.redis, cliLogger("user"));
  try {
    return await new RedisSessions(redis, redisPrefix(config)).closeAllOf(name);
  } finally {
    redis.disconnect();
  }
}

function checkName(name: string): string {
  if (!NAME.test(name)) throw new Error(`user name: letters, digits and . _ @ - only (got "${name.slice(0, 40)}")`);
  return name;
}

function fail(message: string): void {
  console.error(`oose user: ${message}`);
  process.exitCode = 1;
}

/** Runs an action, turning any failure into one line on stderr and exit code 1. */
const guarded =
  <A extends unknown[]>(action: (...args: A) => Promise<void>) =>
  async (...args: A) => {
    try {
      await action(...args);
    } catch (err) {
      fail((err as Error).message);
    }
  };

defineCommand((program: Command) => {
  const user = program.command("user").description("manage the API users prisms log in with (CouchDB _users)");

  addConnectionOptions(user.command("add <name>"), { redis: false })
    .description("create a user; prints a generated password unless --password-stdin")
    .option("--password-stdin", "read the password from standard input")
    .option("--roles <list>", "comma-separated roles", "")
    .action(
      guarded(async (name: string, flags: PasswordFlags) => {
        const pw = password(flags);
        const roles = (flags.roles ?? "").split(",").filter(Boolean);
        const created = await withUsers(flags, (users) => users.add(checkName(name), pw.value, roles));
        if (!created) return fail(`${name} already exists (use passwd to change the password)`);
        console.log(pw.generated ? `created ${name}; password: ${pw.value}` : `created ${name}`);
      }),
    );

  addConnectionOptions(user.command("passwd <name>"), { redis: true })
    .description("set a new password and end the user's sessions; prints a generated one unless --password-stdin")
    .option("--password-stdin", "read the password from standard input")
    .action(
      guarded(async (name: string, flags: PasswordFlags) => {
        const pw = password(flags);
        const ended = await thenEndSessions(flags, checkName(name), () =>
          withUsers(flags, (users) => users.setPassword(name, pw.value)),
        );
        if (ended === undefined) return fail(`no user ${name}`);
        console.log(pw.generated ? `password of ${name}: ${pw.value}` : `password of ${name} changed`);
        console.log(`ended ${ended} session(s)`);
      }),
    );

  addConnectionOptions(user.command("remove <name>"), { redis: true })
    .description("delete a user and end the user's sessions")
    .action(
      guarded(async (name: string, flags: ConnectionFlags) => {
        const ended = await thenEndSessions(flags, checkName(name), () =>
          withUsers(flags, (users) => users.remove(name)),
        );
        if (ended === undefined) return fail(`no user ${name}`);
        console.log(`removed ${name}; ended ${ended} session(s)`);
      }),
    );

  addConnectionOptions(user.command("list"), { redis: false })
    .description("list users and their roles")
    .option("--json", "print JSON")
    .action(
      guarded(async (flags: PasswordFlags) => {
        const users = await withUsers(flags, (users) => users.list());
        if (flags.json) return console.log(JSON.stringify(users));
        for (const u of users) console.log(`${u.name}${u.roles.length ? `\t${u.roles.join(",")}` : ""}`);
      }),
    );
});

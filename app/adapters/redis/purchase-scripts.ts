import type { Redis } from "ioredis";

// The purchase writes as Lua scripts, so Redis runs each check and change as
// one step: a remove and an update of the same token, on any prisms, come out
// as one after the other, never interleaved. Update and remove announce the
// change in the same step, so no prism can keep a copy the change left behind.

export interface Script {
  name: string;
  lua: string;
  keys: number;
}

const create: Script = {
  name: "oosePurchaseCreate",
  keys: 1,
  // ARGV[1] TTL in ms; ARGV[2..] field, value, …
  lua: `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`,
};

// A caller may change a record when admin, or when it names them as owner; a record without owner is admin-only.
const mayChange = `local function allowed()
  return ARGV[1] == '1' or (ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'owner') == ARGV[2])
end`;

// Update and remove: ARGV starts with the admin flag ("1"/"0"), the caller, the notice channel and the token.
const update: Script = {
  name: "oosePurchaseUpdate",
  keys: 1,
  // ARGV[5] new TTL in ms or '' to keep it; ARGV[6..] field, value, … to set. Nil when absent or not allowed.
  lua: `${mayChange}
if redis.call('EXISTS', KEYS[1]) == 0 or not allowed() then return false end
if #ARGV > 5 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
  if ARGV[5] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return redis.call('HGETALL', KEYS[1])`,
};

const remove: Script = {
  name: "oosePurchaseRemove",
  keys: 1,
  // 1 removed, 0 absent, -1 not allowed.
  lua: `${mayChange}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if not allowed() then return -1 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`,
};

export const SCRIPTS = { create, update, remove };

type Scripted = Record<string, (...args: (string | number)[]) => Promise<unknown>>;

/** Runs `script` on `conn` (EVALSHA, loading it on each new connection, as ioredis's defineCommand does). */
export function runScript(conn: Redis, script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
  const commands = conn as unknown as Scripted;
  if (typeof commands[script.name] !== "function")
    conn.defineCommand(script.name, { lua: script.lua, numberOfKeys: script.keys });
  return commands[script.name]!.call(conn, ...keys, ...args);
}

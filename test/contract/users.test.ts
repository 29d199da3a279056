import { randomUUID } from "node:crypto";
import test from "ava";
import { CouchUsers } from "../../app/adapters/couch/users.js";
import { MemoryUsers } from "../../app/adapters/memory/users.js";
import type { UserDirectory } from "../../app/core/ports/users.js";
import { InvalidCredentials } from "../../app/errors.js";
import { contract, useCouch } from "../helpers/contract.js";

// The UserDirectory port: CouchDB's `_users` (logins checked by its /_session) and memory.

const couch = useCouch(test);

contract<{ users: UserDirectory; name: (n: string) => string }>(
  test,
  [
    { name: "memory", make: async () => ({ port: { users: new MemoryUsers(), name: (n) => n } }) },
    {
      name: "couchdb",
      make: async () => {
        const { couch: c, url } = await couch();
        const id = randomUUID().slice(0, 8);
        return { port: { users: new CouchUsers(c, { url, timeoutMs: 5000 }), name: (n) => `${n}-${id}` } };
      },
    },
  ],
  {
    "a user added logs in with their password, and not with another": async (t, { users, name }) => {
      const carol = name("carol");
      t.true(await users.add(carol, "carol-password-1", ["admin"]));
      t.false(await users.add(carol, "other-password-1"), "a taken name is refused");
      t.deepEqual(await users.login(carol, "carol-password-1"), { name: carol, roles: ["admin"] });
      await t.throwsAsync(users.login(carol, "wrong-password"), { instanceOf: InvalidCredentials });
      await t.throwsAsync(users.login(name("nobody"), "carol-password-1"), { instanceOf: InvalidCredentials });
    },
    "a new password replaces the old one": async (t, { users, name }) => {
      const dan = name("dan");
      await users.add(dan, "dan-password-1");
      t.true(await users.setPassword(dan, "dan-password-2"));
      await t.throwsAsync(users.login(dan, "dan-password-1"), { instanceOf: InvalidCredentials });
      t.like(await users.login(dan, "dan-password-2"), { name: dan });
      t.false(await users.setPassword(name("nobody"), "x-password-1"));
    },
    "removed users no longer exist, log in or list": async (t, { users, name }) => {
      const [eve, fay] = [name("eve"), name("fay")];
      await users.add(eve, "eve-password-1");
      await users.add(fay, "fay-password-1", ["reader"]);
      t.true(await users.exists(eve));
      t.true(await users.remove(eve));
      t.false(await users.remove(eve));
      t.false(await users.exists(eve));
      await t.throwsAsync(users.login(eve, "eve-password-1"), { instanceOf: InvalidCredentials });
      const listed = await users.list();
      t.false(listed.some((u) => u.name === eve));
      t.deepEqual(
        listed.find((u) => u.name === fay),
        { name: fay, roles: ["reader"] },
      );
    },
  },
);

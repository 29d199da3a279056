import test from "ava";
import { actorOf, fromRedisHash, mayManage, type Purchase, toRedisFields, toRedisHash } from "../../app/core/purchase.js";

const purchase: Purchase = {
  token: "a".repeat(64),
  hash: "a03f181dc7dedcfb577511149b8844711efdb04f",
  ext: "txt",
  referrer: [],
  life: 1000,
  expirationDate: 1_700_000_000_000,
  owner: "alice",
};

test("the owner is one more string field, and a record without one reads back without", (t) => {
  t.is(toRedisHash(purchase).owner, "alice");
  t.deepEqual(fromRedisHash(toRedisHash(purchase)), purchase);
  const { owner: _none, ...legacy } = purchase;
  t.false("owner" in toRedisHash(legacy));
  t.false("owner" in fromRedisHash(toRedisHash(legacy))!);
  t.deepEqual(toRedisFields({ life: 5, expirationDate: 7.9 }), { life: "5", expirationDate: "7" }, "an update's fields alone");
});

test("users manage their own purchases; admin roles and basic auth manage all; ownerless records are admin-only", (t) => {
  const alice = actorOf({ name: "alice", roles: [] });
  const bob = actorOf({ name: "bob", roles: ["reader"] });
  t.true(mayManage(purchase, alice));
  t.false(mayManage(purchase, bob));
  for (const admin of [actorOf({ name: "root", roles: ["_admin"] }), actorOf({ name: "ops", roles: ["admin"] }), actorOf(undefined)]) {
    t.true(admin.admin);
    t.true(mayManage(purchase, admin));
    t.true(mayManage({}, admin));
  }
  t.false(mayManage({}, alice), "an OOSE-era record");
  t.false(mayManage({ owner: "" }, actorOf({ name: "", roles: [] })));
});

import { randomUUID } from "node:crypto";
import test from "ava";
import { MemoryPurchases } from "../../app/adapters/memory/purchases.js";
import { Channels } from "../../app/adapters/redis/channels.js";
import { RedisPurchases } from "../../app/adapters/redis/purchases.js";
import { ReplicatedWrites } from "../../app/adapters/redis/wait.js";
import type { PurchaseStore } from "../../app/core/ports/purchases.js";
import { mintToken, type Purchase } from "../../app/core/purchase.js";
import { logger } from "../../app/log.js";
import { contract, eventually, useRedis } from "../helpers/contract.js";

// The PurchaseStore port: the Redis store (Lua scripts, WAIT, pub/sub notices) and the in-memory one.

const redis = useRedis(test);
const log = logger("prism", "contract");

/** A store, with every notice it hears. Subscribed before the case starts, as a prism does. */
interface Subject {
  store: PurchaseStore;
  heard: string[];
}

const alice = { name: "alice", admin: false };
const bob = { name: "bob", admin: false };
const admin = { admin: true };

function purchase(o: Partial<Purchase> = {}): Purchase {
  const now = Date.now();
  return {
    token: mintToken(),
    hash: "a".repeat(40),
    ext: "mp4",
    referrer: ["example.com"],
    life: 60_000,
    expirationDate: now + 60_000,
    owner: "alice",
    ...o,
  };
}

const watched = async (store: PurchaseStore, start = async () => {}): Promise<Subject> => {
  const heard: string[] = [];
  store.onChange((token) => heard.push(token));
  await start();
  return { store, heard };
};

contract<Subject>(
  test,
  [
    { name: "memory", make: async () => ({ port: await watched(new MemoryPurchases()) }) },
    {
      name: "redis",
      make: async () => {
        const conn = await redis();
        const channels = new Channels(conn, log);
        const writes = new ReplicatedWrites(conn, 0, 1000);
        const store = new RedisPurchases(conn, writes, `c${randomUUID()}`, channels);
        const port = await watched(store, () => channels.start());
        return {
          port,
          close: async () => {
            channels.stop();
            await writes.close();
          },
        };
      },
    },
  ],
  {
    "a created purchase reads back whole; a missing one is undefined": async (t, { store }) => {
      const p = purchase();
      t.true(await store.create(p, 60_000));
      t.deepEqual(await store.read(p.token), p);
      t.is(await store.read(mintToken()), undefined);
      const ownerless = purchase({ owner: undefined });
      delete ownerless.owner;
      await store.create(ownerless, 60_000);
      t.deepEqual(await store.read(ownerless.token), ownerless, "an OOSE-era record has no owner field");
    },
    "a token is never written twice": async (t, { store }) => {
      const p = purchase();
      t.true(await store.create(p, 60_000));
      t.false(await store.create({ ...p, hash: "b".repeat(40) }, 60_000));
      t.is((await store.read(p.token))?.hash, p.hash);
    },
    "a record is gone once its TTL passes": async (t, { store }) => {
      const p = purchase();
      await store.create(p, 150);
      t.truthy(await store.read(p.token));
      t.true(await eventually(async () => (await store.read(p.token)) === undefined, 2000));
    },
    "an update writes only the fields given, and only for who may manage it": async (t, { store, heard }) => {
      const p = purchase();
      await store.create(p, 60_000);
      t.is(await store.update(p.token, bob, { referrer: [] }), undefined, "another user's purchase is as absent");
      t.deepEqual((await store.read(p.token))?.referrer, ["example.com"]);
      const changed = await store.update(p.token, alice, { referrer: ["a.example", "b.example"] });
      t.deepEqual(changed, { ...p, referrer: ["a.example", "b.example"] });
      const longer = await store.update(p.token, admin, { life: 120_000, expirationDate: p.expirationDate + 60_000 });
      t.like(longer, {
        life: 120_000,
        expirationDate: p.expirationDate + 60_000,
        referrer: ["a.example", "b.example"],
      });
      t.is(await store.update(mintToken(), admin, { life: 1 }), undefined, "a missing purchase is not created");
      t.true(await eventually(() => heard.filter((x) => x === p.token).length === 2), "each change is announced");
    },
    "a record without an owner is managed by admins only": async (t, { store }) => {
      const p = purchase({ owner: undefined });
      delete p.owner;
      await store.create(p, 60_000);
      t.is(await store.update(p.token, alice, { referrer: [] }), undefined);
      t.is(await store.remove(p.token, alice), -1);
      t.is(await store.remove(p.token, admin), 1);
    },
    "an update with a TTL keeps the record past its first one": async (t, { store }) => {
      const p = purchase();
      await store.create(p, 300);
      await store.update(p.token, alice, { life: 60_000 }, 60_000);
      await new Promise((r) => setTimeout(r, 500));
      t.like(await store.read(p.token), { life: 60_000 });
    },
    "remove: -1 for another user's, 1 for one's own, then 0; each removal announced": async (t, { store, heard }) => {
      const p = purchase();
      await store.create(p, 60_000);
      t.is(await store.remove(p.token, bob), -1);
      t.truthy(await store.read(p.token), "refused removals change nothing");
      t.is(await store.remove(p.token, alice), 1);
      t.is(await store.read(p.token), undefined);
      t.is(await store.remove(p.token, alice), 0);
      t.true(await eventually(() => heard.includes(p.token)));
      t.is(heard.filter((x) => x === p.token).length, 1, "only the removal that happened is announced");
    },
  },
);

test("redis: a change on one prism's store is announced to another's", async (t) => {
  const prefix = `c${randomUUID()}`;
  const [a, b] = await Promise.all([redis(), redis()]);
  const [ca, cb] = [new Channels(a, log), new Channels(b, log)];
  const [wa, wb] = [new ReplicatedWrites(a, 0, 1000), new ReplicatedWrites(b, 0, 1000)];
  const one = new RedisPurchases(a, wa, prefix, ca);
  const other = await watched(new RedisPurchases(b, wb, prefix, cb), () => cb.start());
  await ca.start();
  t.teardown(() => {
    ca.stop();
    cb.stop();
  });
  const p = purchase();
  await one.create(p, 60_000);
  await one.update(p.token, alice, { referrer: [] });
  t.true(await eventually(() => other.heard.includes(p.token)));
  t.deepEqual((await other.store.read(p.token))?.referrer, []);
});

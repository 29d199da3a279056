import test from "ava";
import { Redis } from "ioredis";
import { request } from "undici";
import { type Couch, openCouch } from "../../app/adapters/couch/index.js";
import { addUser } from "../../app/adapters/couch/users.js";
import { PrismClient } from "../../packages/client/src/index.js";
import { purchaseKey } from "../../app/core/purchase.js";
import { mintToken } from "../../app/core/purchase.js";
import { useCluster } from "../helpers/cluster.js";
import { until } from "../helpers/fault.js";
import { FOX, FOX_SHA1, loggedIn } from "../helpers/prism.js";

// Purchases belong to the user who made them, on every prism: another user
// finds, updates and removes them no more than a missing one; admins manage
// them all. Update and remove are atomic in Redis, so racing them across
// prisms never brings a removed purchase back or loses a field. The copies a
// prism keeps last a minute here, so only the change notices can keep them right.

const cluster = useCluster(test, {
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? { OOSE_PURCHASE__CACHE_LIFE: "60000" } : {}),
});

let couch: Couch;
let redis: Redis;

test.before(async () => {
  const c = cluster();
  couch = openCouch({ url: c.info.couchdb, database: "oose", timeoutMs: 10_000 });
  await addUser(couch, "alice", "alice-password-1");
  await addUser(couch, "bob", "bob-password-1");
  await addUser(couch, "ops", "ops-password-1", ["admin"]);
  await (await loggedIn(c)).upload([{ name: "fox.txt", data: FOX, type: "text/plain" }]);
  redis = new Redis({ sentinels: c.info.redis.sentinels, name: c.info.redis.name, maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
});

test.after.always(async () => {
  redis?.disconnect();
  await couch?.close();
});

/** One client per prism, logged in as `name`. */
async function as(name: string, password: string): Promise<PrismClient[]> {
  return Promise.all(
    cluster().info.prisms.map(async (p) => {
      const client = new PrismClient({ baseUrl: p.url });
      await client.login(name, password);
      return client;
    }),
  );
}

const alice = () => as("alice", "alice-password-1");
const bob = () => as("bob", "bob-password-1");
const ops = () => as("ops", "ops-password-1");
/** The prism's own basic auth (the private account), on every prism. */
const basic = () => {
  const c = cluster();
  return c.info.prisms.map((p) => new PrismClient({ baseUrl: p.url, auth: c.info.prismAuth }));
};

const failure = async (call: Promise<unknown>) => {
  try {
    await call;
    return { status: 200 };
  } catch (err) {
    const e = err as { status?: number; code?: string };
    return { status: e.status, code: e.code };
  }
};

/** The status of a delivery of `token` from every prism. */
async function deliveries(token: string): Promise<number[]> {
  return Promise.all(
    cluster().info.prisms.map(async (p) => {
      const res = await request(`${p.url}/${token}/fox.txt`);
      await res.body.dump();
      return res.statusCode;
    }),
  );
}

test.serial("another user's purchase is not found on find, update and remove, on every prism; its owner and admins manage it", async (t) => {
  const [a0, a1] = await alice();
  const mine = await a0!.purchase({ hash: FOX_SHA1, ext: "txt", referrer: ["localhost"] });
  t.is(mine.owner, "alice");
  t.deepEqual(await deliveries(mine.token), [403, 403], "delivery is the token holder's, as before (the referrer rule applies)");
  for (const b of await bob()) {
    t.like(await failure(b.purchaseFind(mine.token)), { status: 404, code: "PURCHASE_NOT_FOUND" });
    t.like(await failure(b.purchaseUpdate(mine.token, { life: 1000, referrer: [] })), { status: 404, code: "PURCHASE_NOT_FOUND" });
    t.like(await failure(b.purchaseRemove(mine.token)), { status: 404, code: "PURCHASE_NOT_FOUND" });
  }
  const after = await a1!.purchaseFind(mine.token);
  t.like(after, { referrer: "localhost", life: mine.life, expirationDate: mine.expirationDate }, "untouched by bob");
  t.like(await a1!.purchaseUpdate(mine.token, { referrer: ["example.com"] }), { referrer: "example.com", owner: "alice" });
  t.like(await a0!.purchaseFind(mine.token), { referrer: "example.com" }, "the other prism heard of the change");

  // Admins: a user with the admin role on either prism, the cluster's bootstrap login (as CouchDB's server
  // admin is in a deployment), and the prism's basic auth.
  const admins = [...(await ops()), await loggedIn(cluster(), 1), ...basic()];
  for (const [i, admin] of admins.entries()) {
    t.like(await admin.purchaseFind(mine.token), { token: mine.token, owner: "alice" }, `admin ${i}`);
    t.like(await admin.purchaseUpdate(mine.token, { referrer: [`a${i}.example.com`] }), { referrer: `a${i}.example.com`, owner: "alice" });
  }
  t.like(await admins[0]!.purchaseRemove(mine.token), { count: 1 });
  t.like(await failure(a0!.purchaseFind(mine.token)), { status: 404 });
  t.deepEqual(await deliveries(mine.token), [404, 404]);
});

test.serial("a purchase an admin made through basic auth, or an OOSE-era record without owner, is admin-only", async (t) => {
  const [a0, a1] = await alice();
  const [o0, o1] = await ops();
  const byPrism = await basic()[0]!.purchase({ hash: FOX_SHA1, ext: "txt" });
  t.is(byPrism.owner, undefined);
  // As OOSE 2.2-final wrote it: every field a string, no owner.
  const legacy = mintToken();
  await redis.hset(purchaseKey("oose", legacy), {
    hash: FOX_SHA1,
    ext: "txt",
    referrer: "",
    life: "7200000",
    expirationDate: String(Date.now() + 7_200_000),
    token: legacy,
  });
  for (const token of [byPrism.token, legacy]) {
    t.deepEqual(await deliveries(token), [302, 302], "it delivers");
    for (const a of [a0!, a1!]) {
      t.like(await failure(a.purchaseFind(token)), { status: 404 });
      t.like(await failure(a.purchaseUpdate(token, { life: 1000 })), { status: 404 });
      t.like(await failure(a.purchaseRemove(token)), { status: 404 });
    }
    t.like(await o0!.purchaseFind(token), { token, life: "7200000" });
    const extended = await o1!.purchaseUpdate(token, { life: 3_600_000 });
    t.like(extended, { life: "3600000" });
    t.false("owner" in extended, "an update does not hand the record to the admin");
    t.like(await o0!.purchaseFind(token), { life: "3600000" }, "the other prism's copy was dropped");
    t.like(await o0!.purchaseRemove(token), { count: 1 });
    t.is(await redis.exists(purchaseKey("oose", token)), 0);
  }
  t.like(await a0!.purchaseRemove(mintToken()), { count: 0 }, "removing a missing purchase is fine, as before");
});

test.serial("update on one prism racing remove on the other never brings the purchase back", async (t) => {
  const [a0, a1] = await alice();
  const rounds = 40;
  let removedFirst = 0;
  for (let i = 0; i < rounds; i++) {
    const { token } = await a0!.purchase({ hash: FOX_SHA1, ext: "txt" });
    t.deepEqual(await deliveries(token), [302, 302], "both prisms hold a copy");
    const [update, remove] = await Promise.all([
      failure(a0!.purchaseUpdate(token, { life: 3_600_000, referrer: ["example.com"] })),
      a1!.purchaseRemove(token),
    ]);
    t.is(remove.count, 1, `round ${i}: the remove found it, whatever the update did`);
    if (update.status === 404) removedFirst++;
    else t.is(update.status, 200, `round ${i}: update answered ${update.status}`);
    t.is(await redis.exists(purchaseKey("oose", token)), 0, `round ${i}: gone from Redis`);
    // The notice reaches the other prism within moments, long before its copy would expire (a minute).
    await until(`round ${i}: no prism delivers it`, async () => (await deliveries(token)).every((s) => s === 404), 3000, 20);
  }
  t.log(`update/remove race: ${removedFirst} of ${rounds} updates came after the remove and answered 404`);
});

test.serial("concurrent updates of different fields on two prisms keep both", async (t) => {
  const [a0, a1] = await alice();
  for (let i = 0; i < 30; i++) {
    const { token } = await a0!.purchase({ hash: FOX_SHA1, ext: "txt", life: 60_000 });
    const referrer = `r${i}.example.com`;
    const life = 120_000 + i;
    await Promise.all([a0!.purchaseUpdate(token, { referrer: [referrer] }), a1!.purchaseUpdate(token, { life })]);
    const stored = await redis.hgetall(purchaseKey("oose", token));
    t.like(stored, { referrer, life: String(life), owner: "alice" }, `round ${i}`);
    for (const a of [a0!, a1!]) t.like(await a.purchaseFind(token), { referrer, life: String(life) }, `round ${i}`);
    await a1!.purchaseRemove(token);
  }
});

import { randomBytes } from "node:crypto";
import test from "ava";
import { Redis } from "ioredis";
import { request } from "undici";
import { relativePath } from "../../app/core/layout.js";
import { useCluster } from "../helpers/cluster.js";
import { json, oose, sha1 } from "../helpers/ops.js";
import { holdersOnDisk, inventoryOf, loggedIn } from "../helpers/prism.js";

// Clone scaling on demand, with windows short enough for a test: a hash
// delivered 30+ times within 4 s is hot and gets a copy per 30 deliveries, up
// to 3; once it has been below that for 3 s, the extra copy goes again and the
// original two stay. Deliveries are counted on both prisms and summed in Redis.

const HOT = {
  OOSE_HOT__WINDOW: "4000",
  OOSE_HOT__THRESHOLD: "30",
  OOSE_HOT__MAX_REPLICAS: "3",
  OOSE_HOT__COOL_AFTER: "3000",
  OOSE_HOT__INTERVAL: "500",
  OOSE_HOT__FLUSH_EVERY: "200",
  OOSE_HOT__LEASE: "5000",
};

const cluster = useCluster(test, {
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? HOT : {}),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

test.serial(
  "a hot hash gains a copy under load, deliveries use it, and it goes again once the hash cools",
  async (t) => {
    const c = cluster();
    const client = await loggedIn(c);
    const data = randomBytes(256 * 1024);
    const hash = sha1(data);
    await client.upload([{ name: "clip.bin", data }]);
    const rel = relativePath(hash, "bin");
    const original = [...holdersOnDisk(c, rel).keys()].sort();
    t.is(original.length, 2);
    const { token } = await client.purchase({ hash, ext: "bin", referrer: ["localhost"] });
    const deliver = async (i: number) => {
      const prism = c.info.prisms[i % 2]!;
      const res = await request(`${prism.url}/${token}/clip.bin`, { headers: { referer: "http://localhost/" } });
      await res.body.dump();
      t.is(res.statusCode, 302);
      return String(res.headers.location);
    };
    const publicOf = (location: string) => c.info.stores.find((s) => location.startsWith(`${s.public}/`))!.name;

    // Load: 30 deliveries every 400 ms, over both prisms, until the third copy is on disk.
    let load = true;
    const served = new Set<string>();
    const loader = (async () => {
      for (let round = 0; load; round++) {
        const locations = await Promise.all(Array.from({ length: 30 }, (_, i) => deliver(round * 30 + i)));
        for (const l of locations) served.add(publicOf(l));
        await sleep(400);
      }
    })();
    try {
      // On disk first, then recorded: the copy counts once both show it.
      const three = await until("a third copy", async () => {
        const now = [...holdersOnDisk(c, rel).keys()];
        return now.length >= 3 && (await inventoryOf(c, hash)).length >= 3 ? now.sort() : undefined;
      });
      t.is(three.length, 3, "capped at maxReplicas");
      const extra = three.filter((s) => !original.includes(s));
      t.is(extra.length, 1);
      t.deepEqual((await inventoryOf(c, hash)).map((d) => d.store).sort(), three);

      const redis = new Redis({ sentinels: c.info.redis.sentinels, name: c.info.redis.name });
      try {
        t.deepEqual(await redis.smembers(`oose:hot:extra:${hash}`), extra, "the extra copy is remembered");
      } finally {
        redis.disconnect();
      }
      const status = json(await oose(c, "prism1", ["status", "--json", "--no-inventory"]));
      t.true(status.hot.top.some((h: { hash: string; deliveries: number }) => h.hash === hash && h.deliveries >= 30));
      t.deepEqual(status.hot.extra, [{ hash, stores: extra }]);

      // Deliveries spread over every copy, the new one included.
      await until("a delivery from the new copy", () => served.has(extra[0]!) || undefined, 10_000);
      t.deepEqual([...served].sort(), three);
    } finally {
      load = false;
      await loader;
    }

    // Cold: below the threshold once the window has passed, then coolAfter later the extra copy goes.
    const two = await until(
      "the extra copy to go",
      () => {
        const now = [...holdersOnDisk(c, rel).keys()];
        return now.length === 2 ? now.sort() : undefined;
      },
      30_000,
    );
    t.deepEqual(two, original, "only the copy added for heat is removed");
    t.deepEqual((await inventoryOf(c, hash)).map((d) => d.store).sort(), original);
    const redis = new Redis({ sentinels: c.info.redis.sentinels, name: c.info.redis.name });
    try {
      await until(
        "the hash to leave the active set",
        async () => (await redis.zscore("oose:hot:active", hash)) === null || undefined,
      );
      t.is(await redis.exists(`oose:hot:extra:${hash}`), 0);
    } finally {
      redis.disconnect();
    }
    // And delivery goes on from the two that are left.
    t.true(original.includes(publicOf(await deliver(0))));
  },
);

test.serial("content below the threshold keeps its base copies", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const data = randomBytes(10_000);
  const hash = sha1(data);
  await client.upload([{ name: "calm.bin", data }]);
  const { token } = await client.purchase({ hash, ext: "bin", referrer: ["localhost"] });
  for (let i = 0; i < 10; i++) {
    const res = await request(`${c.info.prisms[0]!.url}/${token}/calm.bin`, {
      headers: { referer: "http://localhost/" },
    });
    await res.body.dump();
  }
  await sleep(2000);
  t.is(holdersOnDisk(c, relativePath(hash, "bin")).size, 2);
});

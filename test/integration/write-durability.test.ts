import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { relativePath } from "../../app/core/layout.js";
import { useCluster } from "../helpers/cluster.js";
import { holders, inventory, partials, restartStore, sha1, slowUpload, until } from "../helpers/fault.js";
import { loggedIn } from "../helpers/prism.js";

// Acknowledged means durable, with the inventory written in shared batches:
// an upload is answered only once every copy is fsynced on its store and its
// doc is in CouchDB, so killing every store and CouchDB right after the last
// answer loses nothing. A CouchDB that dies under uploads costs them a 503,
// never a stray stage.

const cluster = useCluster(test, {
  // The stand-in keeps its data on disk, so a SIGKILL tests what it had acknowledged.
  persist: true,
  extraEnv: (node): Record<string, string> => ({
    OOSE_REPAIR__ENABLED: "false",
    OOSE_COUCHDB__TIMEOUT_MS: "1500",
    ...(node.role === "store" ? { OOSE_LIMITS__STAGE_LIFE: "1000" } : {}),
  }),
});

const stores = () => cluster().info.stores.map((s) => s.name);

test.serial(
  "acknowledged uploads survive SIGKILL of every store and CouchDB right after the last answer",
  async (t) => {
    const c = cluster();
    const client = await loggedIn(c);
    const datas = Array.from({ length: 48 }, (_, i) => randomBytes(i % 3 === 0 ? 256 * 1024 : 4096));
    const acked: Buffer[] = [];
    // Eight at a time, so the stores' inventory writes share batches.
    for (let i = 0; i < datas.length; i += 8) {
      await Promise.all(
        datas.slice(i, i + 8).map(async (data, k) => {
          const reply = await client.upload([{ name: `d${i + k}.bin`, data }]);
          t.is(reply.files.file!.copies.length, 2);
          acked.push(data);
        }),
      );
    }
    for (const s of stores()) c.kill(s, "SIGKILL");
    c.kill("couchdb", "SIGKILL");
    await Promise.all([...stores(), "couchdb"].map((n) => c.procs[n]!.exited));

    await c.restart("couchdb");
    for (const s of stores()) await c.restart(s);
    t.is(acked.length, datas.length);
    for (const data of acked) {
      const hash = sha1(data);
      const file = { hash, data, token: "", relativePath: relativePath(hash, "bin") };
      const onDisk = holders(c, file).sort();
      t.is(onDisk.length, 2, `${hash}: on disk, hash-verified, on ${onDisk.join(", ")}`);
      const docs = await inventory(c, hash);
      t.deepEqual(docs.map((d) => d.store).sort(), onDisk, `${hash}: in the inventory where it is on disk`);
    }
  },
);

test.serial("CouchDB killed under uploads: they get 503 (or were durable), and no stage stays behind", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const prism = c.info.prisms[0]!.url;
  const datas = Array.from({ length: 6 }, () => randomBytes(1024 * 1024));
  // Trickled, so they are still streaming when CouchDB goes.
  const uploads = datas.map((d) => slowUpload(prism, client.token!, d, 64 * 1024, 20));
  await until("a store receiving an upload", async () => stores().some((s) => partials(c, s).length > 0), 10_000, 5);
  c.kill("couchdb", "SIGKILL");
  await c.procs.couchdb!.exited;
  let outcomes: Awaited<(typeof uploads)[number]>[];
  try {
    outcomes = await Promise.all(uploads);
  } finally {
    await c.restart("couchdb");
  }
  for (const [i, o] of outcomes.entries()) {
    if (o.status === 200) {
      const hash = sha1(datas[i]!);
      t.is(holders(c, { hash, data: datas[i]!, token: "", relativePath: relativePath(hash, "bin") }).length, 2);
      continue;
    }
    t.is(o.status, 503, `upload ${i}: ${JSON.stringify(o.body)}`);
    t.is(typeof o.body.code, "string", `upload ${i}: a code`);
  }
  t.true(
    outcomes.some((o) => o.status === 503),
    "at least one upload met the outage",
  );
  // Stages the prism gave up are dropped at once; any the stores still hold go with their sweep.
  await until("no staged leftovers", async () => stores().every((s) => partials(c, s).length === 0), 15_000, 200);
  t.pass();
});

test.serial("a store killed mid-request: the upload completes on the remaining candidates", async (t) => {
  const c = cluster();
  // The prism the slow upload goes through: CouchDB may just be back from the test before, and each prism
  // refuses uploads until its own peer table has read CouchDB again.
  const client = await loggedIn(c, 1);
  await until(
    "uploads accepted",
    async () => {
      try {
        return (await client.upload([{ name: "ready.bin", data: randomBytes(64) }])).files.file!.copies.length === 2;
      } catch {
        return false;
      }
    },
    20_000,
    200,
  );
  const data = randomBytes(3 * 1024 * 1024);
  let answered: unknown;
  const upload = slowUpload(c.info.prisms[1]!.url, client.token!, data, 64 * 1024, 15).then((o) => {
    answered = o;
    return o;
  });
  let victim: string | undefined;
  await until(
    "a store receiving the upload",
    async () => {
      // An upload answered before any store held a byte of it cannot be what this test is about.
      if (answered !== undefined) throw new Error(`the upload was answered first: ${JSON.stringify(answered)}`);
      victim = stores().find((s) => partials(c, s).length > 0);
      return victim !== undefined;
    },
    10_000,
    5,
  );
  await sleep(100);
  c.kill(victim!, "SIGKILL");
  const outcome = await upload;
  t.teardown(async () => {
    if (c.procs[victim!]!.child.exitCode !== null || c.procs[victim!]!.child.signalCode !== null) {
      await restartStore(c, victim!);
    }
  });
  t.is(outcome.status, 200, JSON.stringify(outcome.body));
  const reply = (outcome.body.files as Record<string, { copies: string[] }>).file!;
  const copies = reply.copies.map((x) => x.split(":")[1]!).sort();
  t.is(copies.length, 2);
  t.false(copies.includes(victim!));
  const hash = sha1(data);
  t.deepEqual(holders(c, { hash, data, token: "", relativePath: relativePath(hash, "bin") }).sort(), copies);
});

import { randomBytes, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { Agent, request } from "undici";
import { StoreClient } from "../../app/client/store.js";
import { type ConfigError, parseConfig } from "../../app/config.js";
import type { Peer } from "../../app/core/peer.js";
import { Heartbeat } from "../../app/jobs/heartbeat.js";
import { serverTls, splitPem, TlsError, toolCa } from "../../app/tls.js";
import { createCa, ensureClusterPki, issueCert } from "../../infra/local/pki.js";
import { type Proc, startProc, waitFor } from "../../infra/local/proc.js";
import { appArgs } from "../../infra/local/services.js";
import { startTestCluster, useCluster } from "../helpers/cluster.js";
import { loggedIn } from "../helpers/prism.js";

// TLS on the node APIs: certificates in both of OOSE's forms, the local
// cluster's CA, HTTPS between nodes (verified against that CA, never switched
// off), the front terminating TLS, and --http for plain HTTP.

const scratch = path.join(os.tmpdir(), `oose-tls-${process.pid}`);
mkdirSync(scratch, { recursive: true });
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));

// This file's cluster has a CA of its own: the test swaps certificates.
const cluster = useCluster(test, {
  prisms: 1,
  storesPerPrism: 2,
  replicas: 2,
  tlsDir: path.join(scratch, "cluster-tls"),
});

/** Uploads once the prism's peer table (refreshed every 2 s) has every store back. */
async function uploadWhenReady(c: ReturnType<typeof cluster>, name: string, data: Buffer) {
  const client = await loggedIn(c);
  let reply: Awaited<ReturnType<typeof client.upload>> | undefined;
  await waitFor(
    "an upload with every store live",
    async () => {
      reply = await client.upload([{ name, data }]);
      return true;
    },
    15_000,
    250,
  );
  return reply!;
}

test("the cluster CA and node certificates: names, chain, reuse", async (t) => {
  const dir = path.join(scratch, "pki");
  const pki = await ensureClusterPki(dir, ["prism1", "store1"]);
  const ca = new X509Certificate(readFileSync(pki.ca));
  t.true(ca.ca);
  const cert = new X509Certificate(readFileSync(pki.cert("store1")));
  t.true(cert.verify(ca.publicKey));
  t.false(cert.ca);
  t.is(cert.checkHost("store1"), "store1");
  t.is(cert.checkHost("localhost"), "localhost");
  t.is(cert.checkIP("127.0.0.1"), "127.0.0.1");
  t.is(statSync(pki.key("store1")).mode & 0o777, 0o600, "keys are private");
  const before = readFileSync(pki.cert("store1"), "utf8");
  await ensureClusterPki(dir, ["prism1", "store1", "store2"]);
  t.is(readFileSync(pki.cert("store1"), "utf8"), before, "kept across starts");
  // A certificate from another CA is replaced by one from the cluster's.
  const other = await issueCert(await createCa(), "store2");
  writeFileSync(pki.cert("store2"), other.cert);
  writeFileSync(pki.key("store2"), other.key);
  await ensureClusterPki(dir, ["store2"]);
  t.true(new X509Certificate(readFileSync(pki.cert("store2"))).verify(ca.publicKey));
});

test("a node takes OOSE's single PEM or a cert/key pair; bad files and mixed settings are refused", async (t) => {
  const ca = await createCa();
  const issued = await issueCert(ca, "prism1");
  const pem = path.join(scratch, "oose.pem");
  writeFileSync(pem, `${issued.key}\n${issued.cert}`);
  writeFileSync(path.join(scratch, "node.crt"), issued.cert);
  writeFileSync(path.join(scratch, "node.key"), issued.key);
  const single = serverTls({ pem })!;
  const pair = serverTls({ cert: path.join(scratch, "node.crt"), key: path.join(scratch, "node.key") })!;
  t.deepEqual(single, splitPem(`${issued.key}\n${issued.cert}`));
  t.is(pair.cert.trim(), issued.cert.trim());
  t.is(serverTls(undefined), undefined);
  t.is(serverTls({ ca: pem }), undefined, "a CA alone serves plain HTTP");

  const stranger = await issueCert(ca, "prism2");
  writeFileSync(path.join(scratch, "wrong.key"), stranger.key);
  t.throws(() => serverTls({ cert: path.join(scratch, "node.crt"), key: path.join(scratch, "wrong.key") }), {
    instanceOf: TlsError,
    message: /does not match/,
  });
  t.throws(() => serverTls({ pem: path.join(scratch, "missing.pem") }), { instanceOf: TlsError, message: /tls\.pem/ });

  // The oose command trusts the same CA: OOSE_TLS__CA, or tls.ca in the OOSE_CONFIG file.
  const caFile = path.join(scratch, "tool-ca.crt");
  writeFileSync(caFile, ca.cert);
  const configFile = path.join(scratch, "tool.json");
  writeFileSync(configFile, JSON.stringify({ tls: { ca: caFile } }));
  t.is(toolCa({ OOSE_TLS__CA: caFile }), ca.cert);
  t.is(toolCa({ OOSE_CONFIG: configFile }), ca.cert);
  t.is(toolCa({}), undefined);
  t.throws(() => toolCa({ OOSE_TLS__CA: pem.replace("oose.pem", "nope.crt") }), { instanceOf: TlsError });

  const base = {
    role: "prism",
    name: "prism1",
    dataRoot: "/tmp/x",
    couchdb: { url: "http://127.0.0.1:5984" },
    redis: { url: "redis://127.0.0.1:6379" },
    auth: { prism: { username: "a", password: "b" }, store: { username: "c", password: "d" } },
    signingKey: "0123456789abcdef0123",
  };
  t.notThrows(() => parseConfig({ ...base, advertiseUrl: "https://127.0.0.1:5971", tls: { pem } }));
  const problems = (raw: Record<string, unknown>) =>
    (t.throws(() => parseConfig({ ...base, ...raw })) as ConfigError).problems.join("\n");
  t.regex(problems({ advertiseUrl: "http://127.0.0.1:5971", tls: { pem } }), /must reach it at https/);
  t.regex(problems({ advertiseUrl: "https://127.0.0.1:5971", tls: { cert: pem } }), /cert and key go together/);
  t.regex(
    problems({ advertiseUrl: "https://127.0.0.1:5971", tls: { pem, cert: pem, key: pem } }),
    /either pem or cert/,
  );
  const plain = { ...base, advertiseUrl: "http://127.0.0.1:5971" };
  t.is(parseConfig(plain).listen.port, 5971, "OOSE's prism port");
  t.is(parseConfig({ ...plain, role: "store", prism: "prism1" }).listen.port, 5972, "OOSE's store port");
});

test.serial("the cluster speaks HTTPS: node URLs, the front, and prism → store calls", async (t) => {
  const { info } = cluster();
  t.truthy(info.ca);
  for (const node of [...info.prisms, ...info.stores]) t.regex(node.url, /^https:\/\/127\.0\.0\.1:\d+$/, node.name);
  for (const store of info.stores) t.regex(store.public, /^http:\/\//, "the bytes path stays plain HTTP locally");
  t.regex(info.front!, /^https:\/\//);
  const viaFront = await request(`${info.front}/ping`);
  t.deepEqual(await viaFront.body.json(), { pong: "pong" });
  // Without the cluster CA a client refuses the node: nothing here switches verification off.
  const untrusting = new Agent();
  t.teardown(() => untrusting.close());
  const err = await t.throwsAsync(request(`${info.prisms[0]!.url}/ping`, { dispatcher: untrusting }));
  t.regex(String((err as { code?: string }).code), /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);

  const client = await loggedIn(cluster());
  const reply = await client.upload([{ name: "a.bin", data: randomBytes(2000) }]);
  t.is(reply.files.file!.copies.length, 2, "the prism reached both stores over HTTPS");
});

test.serial("a store started with OOSE's single PEM joins and serves", async (t) => {
  const c = cluster();
  const env = c.env.store1!;
  const pem = path.join(scratch, "store1.pem");
  writeFileSync(pem, `${readFileSync(env.OOSE_TLS__KEY!, "utf8")}\n${readFileSync(env.OOSE_TLS__CERT!, "utf8")}`, {
    mode: 0o600,
  });
  const pair = { cert: env.OOSE_TLS__CERT!, key: env.OOSE_TLS__KEY! };
  env.OOSE_TLS__PEM = pem;
  delete env.OOSE_TLS__CERT;
  delete env.OOSE_TLS__KEY;
  try {
    await c.restart("store1");
    const reply = await uploadWhenReady(c, "b.bin", randomBytes(3000));
    t.true(reply.files.file!.copies.some((s) => s.endsWith("store1")));
  } finally {
    delete env.OOSE_TLS__PEM;
    Object.assign(env, { OOSE_TLS__CERT: pair.cert, OOSE_TLS__KEY: pair.key });
  }
});

test.serial("calls between nodes fail when a node's certificate is not signed by the cluster CA", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const placed = await uploadWhenReady(c, "c.bin", randomBytes(4000));
  const file = `${placed.files.file!.hash}.bin`;

  // store2 comes back with a certificate for the same names, from another CA.
  const rogueCa = await createCa();
  const rogue = await issueCert(rogueCa, "store2");
  writeFileSync(path.join(scratch, "rogue.crt"), rogue.cert);
  writeFileSync(path.join(scratch, "rogue.key"), rogue.key, { mode: 0o600 });
  await c.procs.store2!.stop();
  const own = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OOSE_")));
  const proc: Proc = startProc("store2-rogue", process.execPath, appArgs("main"), {
    logDir: c.logDir,
    cwd: path.resolve(import.meta.dirname, "../.."),
    env: {
      ...own,
      ...c.env.store2,
      OOSE_TLS__CERT: path.join(scratch, "rogue.crt"),
      OOSE_TLS__KEY: path.join(scratch, "rogue.key"),
    },
  });
  const trustsRogue = new Agent({ connect: { ca: rogueCa.cert } });
  const store2 = c.info.stores.find((s) => s.name === "store2")!;
  try {
    await waitFor(
      "rogue store2",
      async () => (await request(`${store2.url}/healthz`, { dispatcher: trustsRogue })).statusCode === 200,
      30_000,
      200,
    );

    // Prism → store: the typed client (the prism's own agent) and the heartbeat refuse it.
    const direct = new StoreClient({ baseUrl: store2.url, auth: c.info.storeAuth, timeoutMs: 5000, name: "store2" });
    const refused = (await t.throwsAsync(direct.exists(placed.files.file!.hash))) as Error & {
      status?: number;
      cause?: { code?: string };
    };
    t.is(refused.status, 503);
    t.regex(String(refused.cause?.code ?? refused.cause), /UNABLE_TO_VERIFY|CERT|SELF_SIGNED/);
    const heartbeat = new Heartbeat({ settings: { pingTimeout: 3000 } } as never);
    t.false(await heartbeat.ping({ url: store2.url } as Peer));
    t.true(await heartbeat.ping({ url: c.info.stores[0]!.url } as Peer));
    await heartbeat.stop();

    // Store → store: store1 will not send a copy to it.
    const store1 = new StoreClient({ baseUrl: c.info.stores[0]!.url, auth: c.info.storeAuth, timeoutMs: 10_000 });
    const send = (await t.throwsAsync(store1.send(file, `${store2.prism}:store2`))) as {
      status?: number;
      code?: string;
    };
    t.is(send.status, 503);
    t.is(send.code, "PEER_UNAVAILABLE");

    // And an upload that needs both stores fails cleanly (503) rather than trusting the impostor.
    const upload = (await t.throwsAsync(client.upload([{ name: "d.bin", data: randomBytes(5000) }]))) as {
      status?: number;
    };
    t.is(upload.status, 503);
  } finally {
    await proc.stop();
    await trustsRogue.close();
    await c.restart("store2");
  }
  const again = await uploadWhenReady(c, "e.bin", randomBytes(5000));
  t.is(again.files.file!.copies.length, 2, "with its real certificate back, store2 takes copies again");
});

test.serial("--http: plain HTTP everywhere, no CA", async (t) => {
  const plain = await startTestCluster({ http: true, prisms: 1, storesPerPrism: 1, replicas: 1 });
  try {
    t.is(plain.info.ca, null);
    t.regex(plain.info.prisms[0]!.url, /^http:\/\//);
    t.regex(plain.info.stores[0]!.url, /^http:\/\//);
    t.regex(plain.info.front!, /^http:\/\//);
    t.is(plain.env.prism1!.OOSE_TLS__CA, undefined);
    const client = await loggedIn(plain);
    const reply = await client.upload([{ name: "f.bin", data: randomBytes(1000) }]);
    t.is(reply.files.file!.copies.length, 1);
    t.deepEqual(await (await request(`${plain.info.front}/ping`)).body.json(), { pong: "pong" });
  } finally {
    await plain.stop();
    rmSync(plain.dataDir, { recursive: true, force: true });
  }
});

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { request } from "undici";
import { PrismClient } from "../../packages/client/src/index.js";
import { defaultSpec } from "../../app/topology/model.js";
import { type LocalCluster, type StartOptions, startCluster } from "../../infra/local/cluster.js";
import { freeBlock, SHARED_TLS_DIR, trustClusterCa } from "../helpers/cluster.js";
import { FOX, FOX_SHA1, loggedIn } from "../helpers/prism.js";

// The local cluster stopped and started again on the same data dir, as with
// Ctrl-C and `npm start`: Redis keeps its append-only file like the
// deployment's, so purchases and sessions made before the stop still answer.

let opts: StartOptions;
let cluster: LocalCluster | undefined;
let failed = false;

test.before(async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "oose-test-"));
  opts = {
    spec: defaultSpec(1, 2, 2),
    basePort: await freeBlock(),
    dataDir,
    logDir: path.join(dataDir, "logs"),
    tlsDir: SHARED_TLS_DIR,
  };
});

test.afterEach.always((t) => {
  if (!t.passed) failed = true;
});

test.after.always(async () => {
  await cluster?.stop();
  if (failed) console.error(`\ntest cluster logs kept in ${opts.logDir}\n`);
  else rmSync(opts.dataDir, { recursive: true, force: true });
});

const start = async () => {
  cluster = await startCluster(opts);
  if (cluster.info.ca) trustClusterCa(cluster.info.ca);
  return cluster;
};

test.serial("a purchase and a session made before a full stop answer after the next start", async (t) => {
  let c = await start();
  const client = await loggedIn(c);
  const up = await client.upload([{ name: "fox.txt", data: FOX, type: "text/plain" }]);
  t.is(up.files.file!.hash, FOX_SHA1);
  const purchase = await client.purchase({ hash: FOX_SHA1, ext: "txt" });
  await c.stop();

  c = await start();
  const again = new PrismClient({ baseUrl: c.info.prisms[0]!.url, token: client.token });
  t.like(await again.validate(), { success: "Session valid" });
  t.like(await again.purchaseFind(purchase.token), { token: purchase.token, hash: FOX_SHA1, ext: "txt" });
  const res = await request(`${c.info.prisms[0]!.url}/${purchase.token}/fox.txt`);
  await res.body.dump();
  t.is(res.statusCode, 302);
});

import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { execa } from "execa";
import { setupPlan } from "../../infra/components/couchdb-setup.js";
import { freePort, httpOk, type Proc, startProc, waitFor } from "../../infra/local/proc.js";
import { tsxArgs } from "../../infra/local/services.js";

// The CouchDB stand-in's _cluster_setup, driven by the deployment's own setup
// job (infra/jobs/couchdb-setup.mjs) as a 3-node plan: afterwards every node
// serves the same data, the job is a no-op when run again, and it takes the
// admin from COUCHDB_USER/COUCHDB_PASSWORD as CouchDB's image does.

const ADMIN = { username: "admin", password: "standin-secret-1" };
const SERVER = new URL("../../infra/couchdb-standin/server.ts", import.meta.url).pathname;
const JOB = new URL("../../infra/jobs/couchdb-setup.mjs", import.meta.url).pathname;
const auth = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString("base64")}`;

const dir = mkdtempSync(path.join(os.tmpdir(), "oose-standin-cluster-"));
const procs: Proc[] = [];
let nodes: { port: number; url: string }[] = [];

test.before(async () => {
  nodes = await Promise.all(
    [1, 2, 3].map(async (i) => {
      const [port, clusterPort] = [await freePort(), await freePort()];
      const args = tsxArgs(SERVER, "--port", String(port), "--cluster-port", String(clusterPort));
      args.push("--data", path.join(dir, `node${i}`));
      const env = {
        ...process.env,
        COUCHDB_USER: ADMIN.username,
        COUCHDB_PASSWORD: ADMIN.password,
        NODENAME: "127.0.0.1",
      };
      procs.push(startProc(`couchdb${i}`, process.execPath, args, { logDir: dir, env }));
      const url = `http://127.0.0.1:${port}`;
      await waitFor(`couchdb${i}`, () => httpOk(`${url}/_up`));
      return { port, url };
    }),
  );
});

test.after.always(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function runJob(): Promise<string> {
  const jobDir = mkdtempSync(path.join(dir, "job-"));
  copyFileSync(JOB, path.join(jobDir, "run.mjs"));
  const plan = setupPlan(
    nodes.map((n) => ({ host: "127.0.0.1", port: n.port, url: n.url })),
    ADMIN,
  );
  writeFileSync(path.join(jobDir, "plan.json"), JSON.stringify(plan));
  const r = await execa(process.execPath, [path.join(jobDir, "run.mjs")], { timeout: 60_000 });
  return r.stdout;
}

const call = async (url: string, init: RequestInit = {}) => {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test.serial("the setup job joins the nodes: what one writes, all read", async (t) => {
  const out = await runJob();
  t.regex(out, /finish_cluster : 201/);
  for (const n of nodes) t.like((await call(`${n.url}/_cluster_setup`)).body, { state: "cluster_finished" });

  const headers = { authorization: auth, "content-type": "application/json" };
  t.is((await call(`${nodes[1]!.url}/shared`, { method: "PUT", headers })).status, 201);
  const put = await call(`${nodes[2]!.url}/shared/doc1`, { method: "PUT", headers, body: JSON.stringify({ v: 1 }) });
  t.is(put.status, 201);
  for (const n of nodes) t.like((await call(`${n.url}/shared/doc1`, { headers })).body, { v: 1 });
});

test.serial("run again, the job leaves a set-up cluster alone", async (t) => {
  t.regex(await runJob(), /already set up \(cluster_finished\)/);
});

test.serial("without the admin's credentials, _cluster_setup and database creation are refused", async (t) => {
  const body = JSON.stringify({ action: "finish_cluster" });
  const headers = { "content-type": "application/json" };
  t.is((await call(`${nodes[0]!.url}/_cluster_setup`, { method: "POST", headers, body })).status, 401);
  const wrong = { authorization: `Basic ${Buffer.from("admin:wrong").toString("base64")}` };
  t.is((await call(`${nodes[0]!.url}/other`, { method: "PUT", headers: wrong })).status, 401);
});

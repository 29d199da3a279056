import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import test from "ava";
import nano from "nano";
import { request } from "undici";
import { copyDoc, type InventoryDoc } from "../../app/core/inventory.js";
import { relativePath } from "../../app/core/layout.js";
import { useCluster } from "../helpers/cluster.js";
import { type Scrape, scrapeOf } from "../helpers/metrics.js";
import { loggedIn } from "../helpers/prism.js";

// /metrics on a local cluster: after one upload and one delivery, every prism
// and store answers Prometheus text behind its own basic auth, with the
// catalog's series at the values that upload and delivery make, and no label
// that carries a hash or a token. The prism logs the delivery decision.

// The second prism runs two workers: whichever takes a scrape answers for both. The heal looks every second.
const cluster = useCluster(test, {
  extraEnv: (node): Record<string, string> => ({
    ...(node.role === "prism" ? { OOSE_HEAL__INTERVAL: "1000" } : {}),
    ...(node.name === "prism2" ? { OOSE_WORKERS: "2" } : {}),
  }),
});

async function metricsOf(url: string, headers: Record<string, string>): Promise<Scrape> {
  const res = await request(`${url}/metrics`, { headers });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url}/metrics: ${res.statusCode} ${text}`);
  if (!String(res.headers["content-type"]).startsWith("text/plain; version=0.0.4"))
    throw new Error("not Prometheus text");
  return scrapeOf(text);
}

const BOTH = [
  "oose_http_request_duration_seconds",
  "oose_couchdb_request_duration_seconds",
  "oose_redis_request_duration_seconds",
  "oose_backend_up",
  "oose_redis_failovers_total",
  "oose_heartbeat_peer_up",
  "oose_heartbeat_votes_cast_total",
  "oose_heartbeat_last_good_ping_age_seconds",
  "process_cpu_seconds_total",
  "nodejs_eventloop_lag_seconds",
  "nodejs_heap_size_used_bytes",
  "nodejs_gc_duration_seconds",
];
const PRISM = [
  "oose_upload_bytes_total",
  "oose_uploads_total",
  "oose_upload_dedupe_total",
  "oose_placement_copies_total",
  "oose_stores_routed_around_total",
  "oose_hot_copies_added_total",
  "oose_hot_copies_removed_total",
  "oose_files_under_replicated",
  "oose_files_without_live_copy",
  "oose_heal_backlog",
];
const STORE = [
  "oose_store_stage_duration_seconds",
  "oose_store_commit_duration_seconds",
  "oose_store_bytes_written_total",
  "oose_inventory_batch_docs",
  "oose_inventory_batch_duration_seconds",
  "oose_scrub_progress_ratio",
  "oose_oldest_verification_age_seconds",
  "oose_corrupt_copies_found_total",
  "oose_store_disk_free_bytes",
  "oose_store_disk_total_bytes",
];

const SIZE = 3000;
let hash = "";
let token = "";

test.before(async () => {
  const c = cluster();
  const client = await loggedIn(c);
  const up = await client.upload([{ name: "metrics.bin", data: randomBytes(SIZE) }]);
  hash = up.files.file!.hash;
  token = (await client.purchase({ hash, ext: "bin", referrer: [], life: 3_600_000 })).token;
  // The plain path: the raw fast route, which fastify's hooks never see.
  const res = await request(`${c.info.prisms[0]!.url}/${token}/metrics.bin`);
  await res.body.dump();
  if (res.statusCode !== 302) throw new Error(`delivery answered ${res.statusCode}`);
});

test("/metrics refuses a caller without the node's own credentials", async (t) => {
  const c = cluster();
  const nodes = [
    ...c.info.prisms.map((p) => ({ url: p.url, wrong: c.storeAuth() })),
    ...c.info.stores.map((s) => ({ url: s.url, wrong: c.prismAuth() })),
  ];
  for (const { url, wrong } of nodes) {
    for (const headers of [{}, wrong]) {
      const res = await request(`${url}/metrics`, { headers });
      t.is(res.statusCode, 401, url);
      t.like(await res.body.json(), { code: "UNAUTHORIZED" });
    }
  }
});

test("each prism counts the upload and the delivery it handled, with the whole prism catalog", async (t) => {
  const c = cluster();
  const [first, second] = await Promise.all(c.info.prisms.map((p) => metricsOf(p.url, c.prismAuth())));
  for (const m of [first!, second!]) {
    for (const name of [...BOTH, ...PRISM]) t.true(m.types.has(name), name);
    for (const name of STORE) t.false(m.types.has(name), name);
    t.is(m.types.get("oose_http_request_duration_seconds"), "HISTOGRAM");
    t.is(m.sum("oose_backend_up", { backend: "couchdb" }), 1);
    t.is(m.sum("oose_backend_up", { backend: "redis" }), 1);
  }
  const m = first!;
  t.is(m.sum("oose_uploads_total", { outcome: "ok" }), 1);
  t.is(m.find("oose_uploads_total", { outcome: "error" }).length, 0);
  t.is(m.sum("oose_upload_bytes_total"), SIZE);
  t.is(m.sum("oose_upload_dedupe_total"), 0);
  t.is(m.sum("oose_placement_copies_total"), 2, "two copies placed");
  t.is(m.find("oose_placement_copies_total").length, 2, "in two zones");
  const delivered = { route: "deliver", method: "GET" };
  t.is(m.sum("oose_http_request_duration_seconds_count", { ...delivered, status: "302" }), 1);
  t.is(m.sum("oose_http_request_duration_seconds_count", delivered), 1, "no other status");
  t.is(m.sum("oose_http_request_duration_seconds_count", { route: "/content/upload", status: "200" }), 1);
  t.true(m.sum("oose_couchdb_request_duration_seconds_count", { op: "list_peers", outcome: "ok" }) >= 1);
  t.true(m.sum("oose_redis_request_duration_seconds_count", { op: "purchase_create", outcome: "ok" }) >= 1);
  t.is(second!.sum("oose_uploads_total"), 0);
});

test("every prism shows what the last heal pass found, whichever prism ran it", async (t) => {
  const c = cluster();
  // A copy on a store that does not exist: a file with no live copy, which the heal can only report.
  const lost = createHash("sha1").update(randomBytes(16)).digest("hex");
  const doc = copyDoc(
    { hash: lost, ext: "bin", size: 1, relativePath: relativePath(lost, "bin") },
    "prism1",
    "ghost",
    new Date(0).toISOString(),
  );
  await nano(c.info.couchdb)
    .use<InventoryDoc>("oose-inventory")
    .insert({ ...doc, _id: `${lost}:prism1:ghost` });
  for (const p of c.info.prisms) {
    let m = await metricsOf(p.url, c.prismAuth());
    while (m.sum("oose_files_without_live_copy") === 0) {
      await new Promise((r) => setTimeout(r, 300));
      m = await metricsOf(p.url, c.prismAuth());
    }
    t.is(m.sum("oose_files_without_live_copy"), 1, p.name);
    t.is(m.sum("oose_files_under_replicated"), 1, p.name);
    t.is(m.sum("oose_heal_backlog"), 0, p.name);
  }
});

test("a prism with two workers answers every scrape with the figures of both", async (t) => {
  const c = cluster();
  const prism = c.info.prisms[1]!;
  t.is(prism.name, "prism2");
  // A connection each, so the kernel spreads them over the workers.
  const deliveries = 8;
  for (let i = 0; i < deliveries; i++) {
    const res = await request(`${prism.url}/${token}/metrics.bin`, { reset: true });
    await res.body.dump();
    t.is(res.statusCode, 302);
  }
  for (let i = 0; i < 6; i++) {
    const res = await request(`${prism.url}/metrics`, { headers: c.prismAuth(), reset: true });
    t.is(res.statusCode, 200);
    const m = scrapeOf(await res.body.text());
    t.is(m.sum("oose_http_request_duration_seconds_count", { route: "deliver", status: "302" }), deliveries);
    t.is(m.sum("oose_backend_up", { backend: "redis" }), 1, "a gauge is not summed over the workers");
  }
});

test("the stores that took the copies time their stage and commit and count the bytes", async (t) => {
  const c = cluster();
  const all = await Promise.all(c.info.stores.map((s) => metricsOf(s.url, c.storeAuth())));
  for (const m of all) {
    for (const name of [...BOTH, ...STORE]) t.true(m.types.has(name), name);
    for (const name of PRISM) t.false(m.types.has(name), name);
    t.true(m.sum("oose_store_disk_total_bytes") > 0);
    t.true(m.sum("oose_store_disk_free_bytes") > 0);
    t.is(m.sum("oose_backend_up", { backend: "couchdb" }), 1);
    t.true(m.find("oose_couchdb_request_duration_seconds_count").every((s) => /^[a-z_]+$/.test(s.labels.op!)));
  }
  const holders = all.filter((m) => m.sum("oose_store_commit_duration_seconds_count") >= 1);
  t.is(holders.length, 2);
  for (const m of holders) {
    t.is(m.sum("oose_store_bytes_written_total"), SIZE);
    t.true(m.sum("oose_store_stage_duration_seconds_count") >= 1);
    t.true(m.sum("oose_inventory_batch_docs_count") >= 1);
    t.true(m.sum("oose_inventory_batch_duration_seconds_count") >= 1);
    t.true(m.sum("oose_couchdb_request_duration_seconds_count", { op: "write", outcome: "ok" }) >= 1);
  }
});

test("the heartbeat shows every peer up, with a recent good ping", async (t) => {
  const c = cluster();
  const peers = [...c.info.prisms, ...c.info.stores].map((n) => n.name);
  // The first round starts heartbeat.startDelay after a node starts: wait for it.
  let m: Scrape;
  for (;;) {
    m = await metricsOf(c.info.prisms[0]!.url, c.prismAuth());
    if (m.find("oose_heartbeat_peer_up").length >= peers.length - 1) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const peer of peers.filter((p) => p !== c.info.prisms[0]!.name)) {
    t.is(m.sum("oose_heartbeat_peer_up", { peer }), 1, peer);
    t.is(m.find("oose_heartbeat_last_good_ping_age_seconds", { peer }).length, 1, peer);
  }
  t.is(m.find("oose_heartbeat_peer_up", { peer: c.info.stores[0]!.name })[0]?.labels.type, "store");
  t.is(m.sum("oose_heartbeat_votes_cast_total"), 0);
});

test("no label anywhere carries the hash or the token", async (t) => {
  const c = cluster();
  const scrapes = await Promise.all([
    ...c.info.prisms.map((p) => metricsOf(p.url, c.prismAuth())),
    ...c.info.stores.map((s) => metricsOf(s.url, c.storeAuth())),
  ]);
  const values = scrapes.flatMap((m) => m.samples.flatMap((s) => Object.values(s.labels)));
  t.true(values.length > 100);
  for (const v of values) {
    t.false(v.includes(hash) || v.includes(token), v);
    // Nor anything shaped like one: a run of 32 hex digits or a 64-character token.
    t.false(/[0-9a-f]{32}|[A-Za-z0-9]{64}/.test(v), v);
  }
});

test("the prism logs the delivery decision: token, hash, chosen store, status", async (t) => {
  const c = cluster();
  const file = path.join(c.logDir, `${c.info.prisms[0]!.name}.log`);
  const decisions = () =>
    readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === "delivery");
  // The node's output reaches its log file through the runner: wait for the line to land.
  while (decisions().length === 0) await new Promise((r) => setTimeout(r, 200));
  const lines = decisions();
  t.is(lines.length, 1);
  t.like(lines[0], { token, hash, status: 302, level: 30 });
  t.true(c.info.stores.some((s) => s.name === lines[0]!.store));
});

import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { StoreClient } from "../app/client/store.js";
import { defaultSpec } from "../app/topology/model.js";
import { startCluster } from "../infra/local/cluster.js";
import { freeBlock } from "../test/helpers/cluster.js";
import { INVENTORY_DESIGN, KEYLIST_DESIGN } from "../migrations/0001-base.js";
import nano from "nano";

// clonetool's transfer rate: files held once (on store3) get their second copy
// through `oose clonetool --input` (store-to-store send: the source verifies,
// streams; the target hashes, fsyncs, renames). Baseline in the same run: the
// same bytes PUT straight into store3 from here (hash + fsync on arrival).
//   npx tsx bench/clonetool.ts [--files 4] [--mib 64]

const o = new Command()
  .option("--files <n>", "files per run", (v) => Number(v), 4)
  .option("--mib <n>", "file size in MiB", (v) => Number(v), 64)
  .parse()
  .opts<{ files: number; mib: number }>();

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const dataDir = mkdtempSync(path.join(os.tmpdir(), "oose-bench-clonetool-"));
chmodSync(dataDir, 0o755);
const cluster = await startCluster({
  spec: defaultSpec(2, 2, 2),
  basePort: await freeBlock(),
  dataDir,
  logDir: path.join(dataDir, "logs"),
  persist: false,
  http: true,
  storeRate: { requestsPerSecond: 1_000_000, burst: 1_000_000, bytesPerSecond: 1024 ** 4 },
  extraEnv: () => ({ OOSE_LOG_LEVEL: "warn" }),
});
try {
  const inv = nano(cluster.info.couchdb).use<Record<string, unknown>>("oose-inventory");
  for (const ddoc of [INVENTORY_DESIGN, KEYLIST_DESIGN]) await inv.insert({ ...ddoc });
  const store = cluster.info.stores.find((s) => s.name === "store3")!;
  const client = new StoreClient({ baseUrl: store.url, auth: cluster.info.storeAuth, timeoutMs: 600_000 });
  const size = o.mib * 1024 ** 2;
  console.log(
    `# clonetool transfer, ${new Date().toISOString()}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`,
  );

  const put = async (n: number) => {
    const hashes: string[] = [];
    let ms = 0;
    for (let i = 0; i < n; i++) {
      const data = randomBytes(size);
      const hash = createHash("sha1").update(data).digest("hex");
      const t = performance.now();
      await client.put(`${hash}.bin`, data);
      ms += performance.now() - t;
      hashes.push(hash);
    }
    return { hashes, mibs: (n * o.mib) / (ms / 1000) };
  };

  const clone = (hashes: string[], concurrency: number) => {
    const list = path.join(dataDir, `list-${concurrency}.txt`);
    writeFileSync(list, `${hashes.join("\n")}\n`);
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OOSE_")));
    const res = spawnSync(
      process.execPath,
      [path.join(ROOT, "bin/oose.js"), "clonetool", "--input", list, "--concurrency", String(concurrency), "--json"],
      { env: { ...base, ...cluster.env.prism1, OOSE_LOG_LEVEL: "warn" }, encoding: "utf8" },
    );
    if (res.status !== 0) throw new Error(`clonetool failed: ${res.stdout}\n${res.stderr}`);
    const report = JSON.parse(res.stdout.trim().split("\n").at(-1)!);
    return report.results.transfer as {
      count: number;
      bytes: number;
      mibPerSecond: number;
      mibPerSecondPerTransfer: number;
    };
  };

  const results: Record<string, unknown> = { files: o.files, mib: o.mib };
  for (const concurrency of [1, 4]) {
    const base = await put(o.files);
    const t = clone(base.hashes, concurrency);
    if (t.count !== o.files) throw new Error(`expected ${o.files} transfers, got ${t.count}`);
    console.log(
      `concurrency ${concurrency}: ${t.count} × ${o.mib} MiB cloned at ${t.mibPerSecond} MiB/s overall, ` +
        `${t.mibPerSecondPerTransfer} MiB/s per transfer; baseline PUT ${base.mibs.toFixed(1)} MiB/s; ` +
        `ratio ${(t.mibPerSecond / base.mibs).toFixed(2)}`,
    );
    results[`c${concurrency}`] = { ...t, baselinePutMiBs: Number(base.mibs.toFixed(1)) };
  }
  console.log(`result: ${JSON.stringify(results)}`);
} finally {
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(process.exitCode ?? 0);

import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { StoreClient } from "../app/client/store.js";
import { json, oose } from "../test/helpers/ops.js";
import { withBenchCluster } from "./lib.js";

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

await withBenchCluster(
  () => ({}),
  async (cluster) => {
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

    const clone = async (hashes: string[], concurrency: number) => {
      const list = path.join(cluster.dataDir, `list-${concurrency}.txt`);
      writeFileSync(list, `${hashes.join("\n")}\n`);
      const res = await oose(cluster, "prism1", [
        "clonetool",
        "--input",
        list,
        "--concurrency",
        String(concurrency),
        "--json",
      ]);
      if (res.code !== 0) throw new Error(`clonetool failed: ${res.stdout}\n${res.stderr}`);
      return json(res).results.transfer as {
        count: number;
        bytes: number;
        mibPerSecond: number;
        mibPerSecondPerTransfer: number;
      };
    };

    const results: Record<string, unknown> = { files: o.files, mib: o.mib };
    for (const concurrency of [1, 4]) {
      const base = await put(o.files);
      const t = await clone(base.hashes, concurrency);
      if (t.count !== o.files) throw new Error(`expected ${o.files} transfers, got ${t.count}`);
      console.log(
        `concurrency ${concurrency}: ${t.count} × ${o.mib} MiB cloned at ${t.mibPerSecond} MiB/s overall, ` +
          `${t.mibPerSecondPerTransfer} MiB/s per transfer; baseline PUT ${base.mibs.toFixed(1)} MiB/s; ` +
          `ratio ${(t.mibPerSecond / base.mibs).toFixed(2)}`,
      );
      results[`c${concurrency}`] = { ...t, baselinePutMiBs: Number(base.mibs.toFixed(1)) };
    }
    console.log(`result: ${JSON.stringify(results)}`);
  },
);
process.exit(process.exitCode ?? 0);

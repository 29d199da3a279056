import { hostname } from "node:os";
import { Value } from "@sinclair/typebox/value";
import { CouchInventory } from "../adapters/couch/inventory.js";
import { CouchOwners } from "../adapters/couch/owners.js";
import { CopyGate } from "../core/copy-gate.js";
import { StorePool } from "../routing/pool.js";
import { ConfigError, ConfigSchema, type Credentials } from "../config.js";
import { isValidHash } from "../core/hash.js";
import { copyId, isLive } from "../core/peer.js";
import { type ClonetoolSummary, Clonetool, mibPerSecond } from "../jobs/clonetool/run.js";
import { type Manual, manualProblem, type Selector, selectorProblem } from "../jobs/clonetool/plan.js";
import { hashBatches, type Source } from "../jobs/clonetool/sources.js";
import { Copies } from "../routing/copies.js";
import { Removal } from "../jobs/removal.js";
import { redisLeases } from "../adapters/redis/lease.js";
import { HashLocks } from "../core/hash-locks.js";
import { defineCommand, intOption } from "./common.js";
import {
  action,
  addOpsOptions,
  type Cluster,
  connect,
  EXIT,
  fmtBytes,
  loadPeers,
  type OpsFlags,
  secs,
  setting,
  UsageError,
} from "./ops.js";
import { reporter } from "./progress.js";

// `oose clonetool`: bring files to the desired number of copies, or clone,
// drop or verify copies by hand (spec §10.2, the 2.4 feature set without its
// quirks: one input source, combinable selectors, --drop needs --force in
// every case, no key cache, destinations chosen as placement chooses them).

interface Flags extends OpsFlags {
  hash?: string;
  input?: string;
  store?: string;
  prism?: string;
  all?: boolean;
  folder?: string;
  desired?: number;
  above?: number;
  below?: number;
  at?: number;
  blockSize?: number;
  concurrency?: number;
  pretend?: boolean;
  dryRun?: boolean;
  verify?: boolean;
  clone?: string;
  drop?: string;
  force?: boolean;
  detail?: string;
}

function source(f: Flags): Source {
  const given: Source[] = [];
  if (f.hash !== undefined) given.push({ kind: "hash", hash: f.hash });
  if (f.input !== undefined) given.push({ kind: "input", file: f.input });
  if (f.store !== undefined) given.push({ kind: "store", name: f.store });
  if (f.prism !== undefined) given.push({ kind: "prism", name: f.prism });
  if (f.all) given.push({ kind: "all" });
  if (f.folder !== undefined) given.push({ kind: "folder", dir: f.folder });
  if (given.length !== 1)
    throw new UsageError("give exactly one of --hash, --input, --store, --prism, --all, --folder (see --help)");
  return given[0]!;
}

export function storeCredentials(raw: Record<string, unknown>): Credentials {
  const auth = raw.auth as { store?: unknown } | undefined;
  const schema = ConfigSchema.properties.auth.properties.store;
  if (!Value.Check(schema, auth?.store))
    throw new ConfigError(["auth.store: set OOSE_AUTH__STORE__USERNAME and OOSE_AUTH__STORE__PASSWORD"]);
  return auth!.store as Credentials;
}

async function detail(c: Cluster, hash: string, json: boolean): Promise<number> {
  if (!isValidHash(hash.toLowerCase())) throw new UsageError(`--detail: not a hash: ${hash}`);
  const peers = await loadPeers(c);
  const all = await new CouchInventory(c.couch).copiesOf(hash.toLowerCase());
  const first = all[0];
  const holders = all.map((d) => {
    const peer = peers.store(d.store);
    return {
      copy: copyId({ prism: d.prism, name: d.store }),
      live: Boolean(peer && isLive(peer)),
      verifiedAt: d.verifiedAt ?? null,
    };
  });
  const live = holders.filter((h) => h.live);
  const out = {
    hash: hash.toLowerCase(),
    extension: first?.mimeExtension ?? null,
    size: first?.size ?? null,
    relativePath: first?.relativePath ?? null,
    exists: all.length > 0,
    count: live.length,
    holders,
  };
  if (json) console.log(JSON.stringify(out));
  else {
    const rows: [string, string][] = [
      ["hash", out.hash],
      ["extension", out.extension ?? "-"],
      ["size", out.size === null ? "-" : `${out.size} (${fmtBytes(out.size)})`],
      ["relative path", out.relativePath ?? "-"],
      ["exists", String(out.exists)],
      ["clone count", String(out.count)],
      ...holders.map((h): [string, string] => [
        "holder",
        `${h.copy}${h.live ? "" : " (down)"}${h.verifiedAt ? `, verified ${new Date(h.verifiedAt).toISOString()}` : ""}`,
      ]),
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(14)} ${v}`);
  }
  return out.exists ? EXIT.ok : EXIT.failed;
}

function printSummary(s: ClonetoolSummary, pretend: boolean): void {
  console.log(`\nclonetool: ${s.files} file(s) analysed${pretend ? " (pretend: nothing was changed)" : ""}`);
  console.log(
    `  need copies   ${s.needCopies} file(s), ${s.copiesWanted} new cop${s.copiesWanted === 1 ? "y" : "ies"}`,
  );
  console.log(`  need fewer    ${s.needFewer} file(s), ${s.removalsWanted} removal(s)`);
  if (s.toVerify) console.log(`  to verify     ${s.toVerify} file(s)`);
  if (s.manual) console.log(`  manual        ${s.manual} file(s)`);
  console.log(`  unchanged     ${s.unchanged}`);
  console.log(
    `  missing       ${s.missing}, unavailable ${s.unavailable}, whitelisted ${s.whitelisted}, invalid ${s.invalid}` +
      (s.errors ? `, errors ${s.errors}` : ""),
  );
}

async function run(f: Flags): Promise<number> {
  if (f.drop !== undefined && !f.force)
    throw new UsageError("--drop removes a copy by hand and is refused without --force");
  const c = connect(f, "clonetool");
  try {
    if (f.detail !== undefined) return await detail(c, f.detail, Boolean(f.json));
    const cfg = setting(c.raw, "clonetool");
    const selector: Selector = { desired: f.desired ?? cfg.desired, above: f.above, below: f.below, at: f.at };
    const manual: Manual = { clone: f.clone, drop: f.drop, verify: f.verify };
    const problem = selectorProblem(selector) ?? manualProblem(manual);
    if (problem) throw new UsageError(problem);
    const src = source(f);
    const pretend = Boolean(f.pretend || f.dryRun);
    const peers = await loadPeers(c);
    for (const name of [f.clone, f.drop].filter((n): n is string => n !== undefined))
      if (!peers.store(name)) throw new UsageError(`no store named ${name}`);
    const pool = new StorePool(peers, storeCredentials(c.raw), 60_000);
    const progress = reporter(f);
    const say = f.json ? undefined : (line: string) => progress.note(line);
    const inventory = new CouchInventory(c.couch);
    const redis = c.redis();
    const locks = redis && new HashLocks(redisLeases(redis), c.prefix, `clonetool@${hostname()}`);
    // Never copies a hash taken down back (core/copy-gate.ts).
    const copies = new Copies(inventory, pool, undefined, new CopyGate(new CouchOwners(c.couch), locks));
    const removal = locks ? new Removal({ copies, pool, locks, log: c.log }) : undefined;
    const tool = new Clonetool(
      {
        copies,
        removal,
        pool,
        say,
        verbose: f.verbose,
      },
      {
        selector,
        manual,
        pretend,
        force: Boolean(f.force),
        whitelist: new Set(cfg.hashWhitelist.map((h) => h.toLowerCase())),
        protectedStores: new Set(cfg.storeProtected),
        // A copy removed by hand leaves at least one verified copy, or --desired if given.
        dropKeep: f.desired ?? 1,
        concurrency: f.concurrency ?? cfg.concurrency,
      },
    );
    const started = performance.now();
    progress.begin(pretend ? "clonetool (pretend)" : "clonetool");
    const batches = hashBatches(src, {
      inventory,
      pageSize: f.blockSize ?? cfg.blockSize,
      note: (m) => progress.note(m),
      invalid: (what) => {
        tool.summary.invalid++;
        if (f.verbose) progress.note(`not a hash: ${what}`);
      },
    });
    await tool.run(batches, (n) => progress.update(n, `copies +${tool.results.copied} -${tool.results.removed}`));
    progress.end(`copies +${tool.results.copied} -${tool.results.removed}`);
    const ms = performance.now() - started;
    const r = tool.results;
    const failed = r.failures.length > 0 || tool.summary.errors > 0;
    const perTransferMs = r.transfers.reduce((a, t) => a + t.ms, 0);
    const transfer = {
      count: r.transfers.length,
      bytes: r.bytes,
      mibPerSecond: Number(mibPerSecond(r.bytes, r.actMs).toFixed(2)),
      mibPerSecondPerTransfer: Number(mibPerSecond(r.bytes, perTransferMs).toFixed(2)),
    };
    if (f.json) {
      console.log(JSON.stringify({ pretend, summary: tool.summary, results: { ...r, transfer }, ms }));
      return failed ? EXIT.failed : EXIT.ok;
    }
    printSummary(tool.summary, pretend);
    if (!pretend) {
      console.log(`  copies made   ${r.copied}${r.copyFailed ? `, failed ${r.copyFailed}` : ""}`);
      const skipped = Object.entries(r.skipped).map(([why, n]) => `${why} ${n}`);
      console.log(
        `  removed       ${r.removed}${r.removeFailed ? `, failed ${r.removeFailed}` : ""}` +
          (skipped.length ? ` (skipped: ${skipped.join(", ")})` : ""),
      );
      if (f.verify) {
        const v = r.verified;
        console.log(`  verified      ok ${v.ok}, corrupt ${v.fail}, gone ${v.missing}, errors ${v.error}`);
      }
      if (transfer.count > 0)
        console.log(
          `  transferred   ${fmtBytes(r.bytes)} in ${transfer.count} transfer(s), ${secs(r.actMs)}: ` +
            `${transfer.mibPerSecond} MiB/s overall, ${transfer.mibPerSecondPerTransfer} MiB/s per transfer`,
        );
    }
    console.log(`  took          ${secs(ms)}`);
    console.log(failed ? `FAILED: ${r.failures.length} problem(s) (see above)` : "OK");
    return failed ? EXIT.failed : EXIT.ok;
  } finally {
    await c.close();
  }
}

defineCommand((program) => {
  const cmd = program
    .command("clonetool")
    .description("bring files to the desired copy count, or clone, drop or verify copies by hand");
  addOpsOptions(cmd, { redis: true })
    .option("-H, --hash <hash>", "one hash")
    .option("-i, --input <file>", "newline-separated hashes from a file, or - for stdin")
    .option("-S, --store <name>", "every hash with a copy on this store")
    .option("-P, --prism <name>", "every hash with a copy under this prism")
    .option("-X, --all", "every hash in the inventory")
    .option("--allfiles", "same as --all")
    .option("-F, --folder <dir>", "every content file under a folder (layout paths or <hash>.<ext> names)")
    .option("-d, --desired <n>", "target copy count (default: clonetool.desired)", intOption("--desired", 1))
    .option("-a, --above <n>", "act on files with more than n live copies", intOption("--above"))
    .option("-b, --below <n>", "act on files with fewer than n live copies", intOption("--below"))
    .option("-A, --at <n>", "act on files with exactly n live copies", intOption("--at"))
    .option(
      "-B, --block-size <n>",
      "hashes analysed per block (default: clonetool.blockSize)",
      intOption("--block-size", 1),
    )
    .option(
      "--concurrency <n>",
      "files acted on at once (default: clonetool.concurrency)",
      intOption("--concurrency", 1),
    )
    .option("-p, --pretend", "analyse and print the summary only; change nothing")
    .option("--dry-run", "same as --pretend")
    .option("-u, --verify", "have every holder re-hash its copy (a corrupt copy is removed)")
    .option("--clone <store>", "add one copy onto this store")
    .option(
      "--drop <store>",
      "remove the copy on this store (needs --force; keeps a verified copy elsewhere, or --desired)",
    )
    .option("-f, --force", "act on whitelisted hashes too; required by --drop")
    .option("-D, --detail <hash>", "print where a hash is, then exit")
    .action(
      action<Flags>(async (flags) => {
        if ((flags as Flags & { allfiles?: boolean }).allfiles) flags.all = true;
        return run(flags);
      }),
    );
});

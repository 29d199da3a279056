import path from "node:path";
import type { Command } from "commander";
import { CouchInventory } from "../adapters/couch/inventory.js";
import { CouchPeers } from "../adapters/couch/peers.js";
import { BlobStore } from "../adapters/disk/index.js";
import type { Config } from "../config.js";
import { InventoryScan } from "../jobs/scan.js";
import type { ScanCounts } from "../jobs/scan-settings.js";
import { type VerifyCounts, verifyStore } from "../jobs/verify.js";
import { StoreContent } from "../store/content.js";
import { defineCommand, intOption } from "./common.js";
import { ensureInventoryDb } from "./inventory-db.js";
import {
  action,
  addOpsOptions,
  announcer,
  type Cluster,
  connect,
  EXIT,
  fmtBytes,
  type OpsFlags,
  secs,
  setting,
  UsageError,
} from "./ops.js";
import { reporter } from "./progress.js";

// `oose inventory scan|verify --store <name>`: run on the host that has the
// store's disk. The data root and parent prism come from the store's own
// config (OOSE_CONFIG / OOSE_*, as the node reads it) or from --data-root and
// --prism; CouchDB (and Redis, to tell prisms about changes) likewise.

interface StoreFlags extends OpsFlags {
  store: string;
  dataRoot?: string;
  prism?: string;
  concurrency?: number;
  batchSize?: number;
  throttle?: number;
  walkers?: number;
  dryRun?: boolean;
  force?: boolean;
  forceMissing?: boolean;
}

interface Target {
  store: string;
  prism: string;
  dataRoot: string;
}

async function target(c: Cluster, flags: StoreFlags): Promise<Target> {
  const own = c.raw.name === flags.store;
  if (c.raw.role === "store" && c.raw.name && !own && !flags.dataRoot)
    throw new UsageError(`this config is store ${String(c.raw.name)}'s, not ${flags.store}'s: pass --data-root`);
  const dataRoot = flags.dataRoot ?? (own ? (c.raw.dataRoot as string | undefined) : undefined);
  if (!dataRoot) throw new UsageError(`--data-root: where is ${flags.store}'s disk? (or run with its config)`);
  let prism = flags.prism ?? (own ? (c.raw.prism as string | undefined) : undefined);
  if (!prism) {
    const peer = (await new CouchPeers(c.couch).list()).find((p) => p.type === "store" && p.name === flags.store);
    if (!peer?.prism) throw new UsageError(`store ${flags.store} is not registered: pass --prism`);
    prism = peer.prism;
  }
  return { store: flags.store, prism, dataRoot: path.resolve(dataRoot) };
}

function tuning(c: Cluster, flags: StoreFlags) {
  const inv = setting(c.raw, "inventory");
  return {
    concurrency: flags.concurrency ?? inv.concurrency,
    batchSize: flags.batchSize ?? inv.batchSize,
    throttle: flags.throttle ?? inv.throttle,
  };
}

const scanLine = (n: ScanCounts) =>
  `valid ${n.valid} created ${n.created} updated ${n.updated} removed ${n.removed} invalid ${n.invalid} errors ${n.errors}`;

async function scan(flags: StoreFlags): Promise<number> {
  const c = connect(flags, "inventory");
  try {
    const t = await target(c, flags);
    const progress = reporter(flags);
    if (!flags.dryRun) await ensureInventoryDb(c.couch, (m) => progress.note(m));
    const tune = tuning(c, flags);
    let phase = "";
    const job = new InventoryScan({
      inventory: new CouchInventory(c.couch),
      blobs: new BlobStore(t.dataRoot),
      ...t,
      ...tune,
      walkers: flags.walkers,
      dryRun: Boolean(flags.dryRun),
      force: Boolean(flags.force),
      announce: flags.dryRun ? undefined : announcer(c),
      note: (m) => progress.note(m),
      progress(p, done, counts) {
        if (p !== phase) {
          if (phase) progress.end(scanLine(counts));
          phase = p;
          progress.begin(p === "walk" ? `scan ${t.store} (files)` : `scan ${t.store} (docs)`);
        }
        progress.update(done, scanLine(counts));
      },
    });
    const r = await job.run();
    if (phase) progress.end(scanLine(r.counts));
    const n = r.counts;
    const rate = Math.round((n.files * 1000) / Math.max(1, r.walkMs));
    if (flags.json)
      console.log(JSON.stringify({ store: t.store, prism: t.prism, dryRun: Boolean(flags.dryRun), ...r }));
    else {
      console.log(`\ninventory scan ${t.store} (${t.prism})${flags.dryRun ? " (dry run: nothing was written)" : ""}`);
      console.log(`  files      ${n.files} (${fmtBytes(n.bytes)}) in ${r.dirs} folders, ${rate} files/s`);
      console.log(`  valid      ${n.valid}`);
      console.log(`  created    ${n.created}`);
      console.log(`  updated    ${n.updated}`);
      console.log(`  removed    ${n.removed} (of ${n.checked} docs checked)`);
      console.log(
        `  invalid    ${n.invalid}${n.duplicates ? `, duplicates ${n.duplicates}` : ""}${n.links ? `, old links ${n.links}` : ""}`,
      );
      console.log(`  errors     ${n.errors}`);
      console.log(`  took       ${secs(r.ms)} (walk ${secs(r.walkMs)}, removal check ${secs(r.pruneMs)})`);
      for (const s of r.samples.invalid) console.log(`  invalid: ${s}`);
      for (const s of r.samples.errors) console.log(`  error: ${s}`);
      if (r.refused) console.log(`REFUSED: ${r.refused}`);
      console.log(n.errors === 0 && !r.refused ? "OK" : "FAILED");
    }
    return n.errors === 0 && !r.refused ? EXIT.ok : EXIT.failed;
  } finally {
    await c.close();
  }
}

async function verify(flags: StoreFlags): Promise<number> {
  const c = connect(flags, "verify");
  try {
    const t = await target(c, flags);
    const tune = tuning(c, flags);
    const expiration = setting(c.raw, "verifyExpiration");
    const config = {
      name: t.store,
      prism: t.prism,
      dataRoot: t.dataRoot,
      verifyExpiration: expiration,
      couchdb: c.config.couchdb,
      redis: { prefix: c.prefix },
    } as Config;
    const inventory = new CouchInventory(c.couch, c.config.couchdb.batch);
    // Without Redis, prisms learn of the changes when their caches expire.
    const announce = announcer(c);
    const content = new StoreContent({
      config,
      inventory,
      blobs: new BlobStore(t.dataRoot),
      announce: async (hash) => announce?.([hash]),
      log: c.log,
    });
    const progress = reporter(flags);
    const line = (n: VerifyCounts) =>
      `ok ${n.ok} fresh ${n.fresh} corrupt ${n.corrupt} missing ${n.missing} errors ${n.errors}`;
    progress.begin(`verify ${t.store}`);
    const r = await verifyStore({
      inventory,
      content,
      ...t,
      ...tune,
      expiration,
      force: Boolean(flags.force),
      forceMissing: Boolean(flags.forceMissing),
      dryRun: Boolean(flags.dryRun),
      note: (m) => progress.note(m),
      progress: (done, n) => progress.update(done, line(n)),
    });
    progress.end(line(r.counts));
    const n = r.counts;
    const speed = (n.bytes / 1024 ** 2 / Math.max(0.001, r.ms / 1000)).toFixed(1);
    if (flags.json)
      console.log(JSON.stringify({ store: t.store, prism: t.prism, dryRun: Boolean(flags.dryRun), ...r }));
    else {
      const dry = flags.dryRun ? " (dry run: nothing was removed)" : "";
      console.log(`\ninventory verify ${t.store} (${t.prism})${flags.force ? " --force" : ""}${dry}`);
      console.log(`  checked    ${n.checked} docs`);
      console.log(`  fresh      ${n.fresh} (verified within ${Math.round(expiration / 86_400_000)} days)`);
      console.log(`  ok         ${n.ok}`);
      console.log(`  corrupt    ${n.corrupt}${flags.dryRun ? " (would be removed)" : " (copy and doc removed)"}`);
      const kept = r.refused ? " (docs kept)" : flags.dryRun ? " (doc would be removed)" : " (doc removed)";
      console.log(`  missing    ${n.missing}${kept}`);
      console.log(`  errors     ${n.errors}`);
      console.log(`  hashed     ${fmtBytes(n.bytes)} in ${secs(r.ms)}, ${speed} MiB/s`);
      for (const x of r.corrupt) console.log(`  corrupt: ${x.hash} (read as ${x.actual})`);
      for (const h of r.missing) console.log(`  missing: ${h}`);
      for (const e of r.errors) console.log(`  error: ${e}`);
      if (r.refused) console.log(`REFUSED: ${r.refused}`);
      console.log(n.errors === 0 && !r.refused ? "OK" : "FAILED");
    }
    return n.errors === 0 && !r.refused ? EXIT.ok : EXIT.failed;
  } finally {
    await c.close();
  }
}

function storeOptions(cmd: Command): Command {
  return addOpsOptions(cmd, { redis: true })
    .requiredOption("--store <name>", "the store whose disk this is")
    .option("--data-root <dir>", "the store's data root (default: dataRoot of its config)")
    .option("--prism <name>", "the store's parent prism (default: its config, or its peer doc)")
    .option(
      "--concurrency <n>",
      "file system operations in flight (default: inventory.concurrency)",
      intOption("--concurrency", 1),
    )
    .option("--batch-size <n>", "docs per CouchDB request (default: inventory.batchSize)", intOption("--batch-size", 1))
    .option("--throttle <ms>", "pause after each batch (default: inventory.throttle)", intOption("--throttle", 0))
    .option("--dry-run", "change nothing; report what would be done");
}

defineCommand((program) => {
  const inventory = program
    .command("inventory")
    .description("reconcile a store's inventory with its disk (run where the disk is)");
  storeOptions(
    inventory
      .command("scan")
      .description("record files the inventory lacks, correct drifted docs, remove docs whose file is gone"),
  )
    .option("--force", "remove docs even when most of the store's files look gone")
    .option(
      "--walkers <n>",
      "threads reading the folders (default: one per core, at most 4)",
      intOption("--walkers", 1),
    )
    .action(action(scan));
  storeOptions(
    inventory
      .command("verify")
      .description("re-hash copies not verified within verifyExpiration; remove corrupt copies and their docs"),
  )
    .option("--force", "re-hash every copy, however recently verified")
    .option("--force-missing", "remove docs of missing files even when most of the store's files look gone")
    .action(action(verify));
});

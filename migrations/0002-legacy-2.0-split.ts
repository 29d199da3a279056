import { type AnyDoc, buildViews, type Db, dbExists, docCount, rangeHasDocs } from "./lib/couch.js";
import { inventoryFromLegacy, LEGACY_PREFIX, legacyPrefix, peerFromLegacy, shortInventoryKey } from "./lib/legacy.js";
import { copyHandler, type Pass, prefixRange, runPasses } from "./lib/passes.js";
import type { Migration, MigrationContext } from "./lib/types.js";

// OOSE 2.0.x data → the split databases with 2.1 keys (spec §5.1, §12.1).
// Sources:
//  - 2.0.0–2.0.3: the single database `<database>` (keys `oose:<type>:…`). It is
//    read only; drop it by hand once you are satisfied.
//  - 2.0.4: the split databases still holding `oose:`-prefixed keys. Each doc is
//    re-keyed in place: the new doc is written (or found), then the old one deleted.
// Stores, then prisms, then inventory. Downvotes are transient and not carried
// over (counted as skipped). Purchases are left to 0003, which moves every
// CouchDB purchase layout straight into Redis. The scanner's leading-dot
// mimeExtension is fixed on the way; a missing relativePath is computed.

const INVENTORY_VIEWS: [string, string[]][] = [
  ["_design/inventory", ["byStore", "byPrism", "byHash"]],
  ["_design/keyList", ["all"]],
];

type Kind = "store" | "prism" | "inventory" | "downvote";

function passFor(ctx: MigrationContext, source: { name: string; db: Db; inPlace: boolean }, kind: Kind): Pass {
  const name = `${kind}@${source.name}`;
  const range = prefixRange(legacyPrefix(kind));
  if (kind === "downvote") {
    return {
      name,
      db: source.db,
      ...range,
      docs: false,
      handle: async (rows) => {
        for (const row of rows) ctx.skip(row.id, "downvote: transient, not migrated");
      },
    };
  }
  const target = ctx.couch.db<AnyDoc>(kind === "inventory" ? "inventory" : "peer");
  const inPlace = source.inPlace && source.name === ctx.couch.name(kind === "inventory" ? "inventory" : "peer");
  const transform =
    kind === "inventory"
      ? (row: { id: string; doc?: AnyDoc }) => inventoryFromLegacy(shortInventoryKey(row.id), row.doc!, ctx.startedAt)
      : (row: { id: string; doc?: AnyDoc }) => peerFromLegacy(kind, row.id, row.doc!, ctx.startedAt);
  return { name, db: source.db, ...range, handle: copyHandler(ctx, { target, transform, moveInPlace: inPlace }) };
}

const migration: Migration = {
  description: "OOSE 2.0.x single database (and 2.0.4 prefixed keys) → split databases with 2.1 keys",
  async up(ctx) {
    const db = (name: string) => ctx.couch.server.use<AnyDoc>(name);
    const candidates: { name: string; inPlace: boolean; kinds: Kind[] }[] = [
      { name: ctx.settings.database, inPlace: false, kinds: ["store", "prism", "inventory", "downvote"] },
      { name: ctx.couch.name("peer"), inPlace: true, kinds: ["store", "prism"] },
      { name: ctx.couch.name("inventory"), inPlace: true, kinds: ["inventory"] },
      { name: ctx.couch.name("heartbeat"), inPlace: true, kinds: ["downvote"] },
    ];
    const passes: Pass[] = [];
    let total = 0;
    let found = false;
    let legacyInventory = false;
    for (const c of candidates) {
      if (!(await dbExists(ctx.couch, c.name))) continue;
      const source = { name: c.name, db: db(c.name), inPlace: c.inPlace };
      const has = await Promise.all(c.kinds.map((k) => rangeHasDocs(source.db, ...rangeOf(k))));
      if (has.some(Boolean)) {
        found = true;
        total += await docCount(ctx.couch, c.name);
      }
      if (has[c.kinds.indexOf("inventory")]) legacyInventory = true;
      // The same passes on every run, so a checkpoint always names one of them.
      for (const k of c.kinds) passes.push(passFor(ctx, source, k));
      if (await rangeHasDocs(source.db, ...rangeOf("purchase"))) {
        ctx.note(`${c.name}: legacy purchases found; 0003 moves them to Redis`);
      }
    }
    if (!found && !ctx.checkpoint.get()) {
      ctx.note(`no legacy ${LEGACY_PREFIX}: data found; nothing to do`);
      return;
    }
    if (legacyInventory && !ctx.checkpoint.get()) await warnIfLive(ctx);
    await runPasses(ctx, passes, { label: "legacy split", total: total || undefined });
    if (ctx.counts.moved > 0 && ctx.settings.warmViews && !ctx.dryRun) await warm(ctx);
  },
};

const rangeOf = (k: Kind | "purchase"): [string, string] => {
  const r = prefixRange(legacyPrefix(k));
  return [r.start, r.end];
};

/** Legacy records imported next to live 2.1 ones may describe copies removed since. */
async function warnIfLive(ctx: MigrationContext): Promise<void> {
  const inventory = ctx.couch.db<AnyDoc>("inventory");
  const live = (await rangeHasDocs(inventory, "0", "9\ufff0")) || (await rangeHasDocs(inventory, "a", "f\ufff0"));
  if (live) {
    ctx.note(
      `${ctx.couch.name("inventory")} already holds 2.1 records: legacy records only fill gaps ` +
        "(existing ones win); run an inventory verify on the stores afterwards to drop copies removed since",
    );
  }
}

/** Builds the inventory views now, so the first node query after a bulk import is not the one that waits. */
async function warm(ctx: MigrationContext): Promise<void> {
  const inventory = ctx.couch.db<AnyDoc>("inventory");
  const started = Date.now();
  for (const [ddoc, views] of INVENTORY_VIEWS) {
    if (!(await rangeHasDocs(inventory, ddoc, ddoc))) continue;
    ctx.progress.note(`${ctx.id}: indexing ${ddoc}`);
    await buildViews(ctx, inventory, ddoc, views);
  }
  ctx.note(`inventory views indexed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export default migration;

import { DB_KINDS } from "../app/adapters/couch/index.js";
import { createDb, dbExists, existingIds, retry } from "./lib/couch.js";
import { type DesignDoc, removeDesignDoc, syncDesignDoc } from "./lib/design.js";
import type { Migration, MigrationContext } from "./lib/types.js";

// The databases of this version (<database>-peer, -inventory, -heartbeat,
// -meta), their _security, and the inventory design docs. An operator's own
// _security is never overwritten; design docs change only when their
// definition does, and a changed view is built before it is swapped in.

/** Only docs keyed `<hash>:<prism>:<store>`: leftovers under other keys never show up in a view. */
const guard = "doc.hash && doc.prism && doc.store && doc._id === doc.hash + ':' + doc.prism + ':' + doc.store";

export const INVENTORY_DESIGN: DesignDoc = {
  _id: "_design/inventory",
  language: "javascript",
  views: {
    byStore: { map: `function (doc) { if (${guard}) { emit([doc.store], null); } }` },
    byPrism: { map: `function (doc) { if (${guard}) { emit([doc.prism], null); } }` },
    byHash: { map: `function (doc) { if (${guard}) { emit([doc.hash], null); } }` },
  },
};

/** Ids only (clonetool pages through every copy with it). */
export const KEYLIST_DESIGN: DesignDoc = {
  _id: "_design/keyList",
  language: "javascript",
  views: { all: { map: "function (doc) { emit(doc._id, null); }" } },
};

function securityFor(ctx: MigrationContext) {
  return {
    admins: { names: [], roles: ["_admin"] },
    members: { names: ctx.settings.couchUser ? [ctx.settings.couchUser] : [], roles: ["oose"] },
  };
}

const isEmptySecurity = (sec: Record<string, { names?: string[]; roles?: string[] } | undefined>) =>
  ["admins", "members"].every(
    (k) => !sec[k] || ((sec[k]!.names ?? []).length === 0 && (sec[k]!.roles ?? []).length === 0),
  );

async function ensureSecurity(ctx: MigrationContext, name: string, dbCreatedNow: boolean): Promise<void> {
  const current =
    ctx.dryRun && dbCreatedNow
      ? {}
      : await retry(`${name}/_security`, () => ctx.couch.server.request({ db: name, path: "_security" }));
  if (!isEmptySecurity(current ?? {})) {
    ctx.counts.exists++;
    return;
  }
  if (!ctx.dryRun) {
    await retry(`${name}/_security`, () =>
      ctx.couch.server.request({ db: name, path: "_security", method: "PUT", body: securityFor(ctx) }),
    );
  }
  ctx.counts.moved++;
  ctx.note(`${name}: _security set (members: role oose${ctx.settings.couchUser ? `, ${ctx.settings.couchUser}` : ""})`);
}

const migration: Migration = {
  description: "databases, _security and inventory design docs",
  async up(ctx) {
    ctx.progress.begin("databases", DB_KINDS.length * 2 + 2, 0);
    let step = 0;
    for (const kind of DB_KINDS) {
      const name = ctx.couch.name(kind);
      const missing = !(await dbExists(ctx.couch, name));
      // The runner creates the meta database itself (its lock lives there): not counted.
      if (kind !== "meta" && missing) {
        if (!ctx.dryRun) await createDb(ctx.couch, name);
        ctx.counts.moved++;
        ctx.note(`${name}: created`);
      } else if (kind !== "meta") {
        ctx.counts.exists++;
      }
      ctx.progress.update(++step, ctx.counts);
      await ensureSecurity(ctx, name, missing);
      ctx.progress.update(++step, ctx.counts);
    }
    const inventory = ctx.couch.db<Record<string, unknown>>("inventory");
    for (const ddoc of [INVENTORY_DESIGN, KEYLIST_DESIGN]) {
      const outcome = await syncDesignDoc(ctx, inventory, ddoc);
      if (outcome === "unchanged") ctx.counts.exists++;
      else {
        ctx.counts.moved++;
        ctx.note(`${ctx.couch.name("inventory")}/${ddoc._id}: ${outcome}`);
      }
      ctx.progress.update(++step, ctx.counts);
    }
    ctx.progress.end(ctx.counts);
  },
  /** Removes the design docs; databases and their data are never dropped by a migration. */
  async down(ctx) {
    const inventory = ctx.couch.db<Record<string, unknown>>("inventory");
    for (const ddoc of [INVENTORY_DESIGN, KEYLIST_DESIGN]) {
      const present = ctx.dryRun
        ? (await existingIds(inventory, [ddoc._id])).size > 0
        : await removeDesignDoc(inventory, ddoc._id);
      if (present) ctx.counts.moved++;
    }
    ctx.note("databases kept: drop them by hand if you really mean to");
  },
};

export default migration;

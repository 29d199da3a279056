import { createDb, dbExists } from "./lib/couch.js";
import { type DesignDoc, removeDesignDoc, syncDesignDoc } from "./lib/design.js";
import { ensureSecurity } from "./lib/security.js";
import type { Migration } from "./lib/types.js";

// The owners database (<database>-owner): one doc per (owner, hash) that
// uploads record, `<hash>:origin` and `<hash>:takedown` marks, and the view
// that pages one owner's files newest first (app/adapters/couch/owners.ts).

/** Only owner docs under their own key; the value carries what a listing shows. */
const guard = "doc.type === 'owner' && doc._id === doc.hash + ':owner:' + doc.owner";

export const OWNERS_DESIGN: DesignDoc = {
  _id: "_design/owners",
  language: "javascript",
  views: {
    byOwner: {
      map: `function (doc) { if (${guard}) { emit([doc.owner, doc.uploadedAt, doc.hash], [doc.ext, doc.size, doc.mimeType]); } }`,
    },
  },
};

const migration: Migration = {
  description: "owners database and its newest-first view",
  async up(ctx) {
    const name = ctx.couch.name("owner");
    ctx.progress.begin("owners", 3, 0);
    const missing = !(await dbExists(ctx.couch, name));
    if (missing) {
      if (!ctx.dryRun) await createDb(ctx.couch, name);
      ctx.counts.moved++;
      ctx.note(`${name}: created`);
    } else ctx.counts.exists++;
    ctx.progress.update(1, ctx.counts);
    await ensureSecurity(ctx, name, missing);
    ctx.progress.update(2, ctx.counts);
    const outcome = await syncDesignDoc(ctx, ctx.couch.db<Record<string, unknown>>("owner"), OWNERS_DESIGN);
    if (outcome === "unchanged") ctx.counts.exists++;
    else {
      ctx.counts.moved++;
      ctx.note(`${name}/${OWNERS_DESIGN._id}: ${outcome}`);
    }
    ctx.progress.end(ctx.counts);
  },
  /** Removes the view; the database and its records are never dropped by a migration. */
  async down(ctx) {
    if (!ctx.dryRun && (await removeDesignDoc(ctx.couch.db<Record<string, unknown>>("owner"), OWNERS_DESIGN._id)))
      ctx.counts.moved++;
    ctx.note("owners database kept: drop it by hand if you really mean to");
  },
};

export default migration;

import { retry } from "./couch.js";
import type { MigrationContext } from "./types.js";

// A database's _security as OOSE sets it: admins `_admin`, members the role
// `oose` and the nodes' CouchDB user. An operator's own is never overwritten.
// (0001-base keeps its own copy: an applied migration's file stays as it ran.)

function securityFor(ctx: MigrationContext) {
  return {
    admins: { names: [], roles: ["_admin"] },
    members: { names: ctx.settings.couchUser ? [ctx.settings.couchUser] : [], roles: ["oose"] },
  };
}

type Security = Record<string, { names?: string[]; roles?: string[] } | undefined>;

const isEmpty = (sec: Security) =>
  ["admins", "members"].every(
    (k) => !sec[k] || ((sec[k]!.names ?? []).length === 0 && (sec[k]!.roles ?? []).length === 0),
  );

/** Sets `name`'s _security unless it has one; counts it moved or exists. */
export async function ensureSecurity(ctx: MigrationContext, name: string, dbCreatedNow: boolean): Promise<void> {
  const current: Security =
    ctx.dryRun && dbCreatedNow
      ? {}
      : await retry(`${name}/_security`, () => ctx.couch.server.request({ db: name, path: "_security" }));
  if (!isEmpty(current ?? {})) {
    ctx.counts.exists++;
    return;
  }
  if (!ctx.dryRun) {
    await retry(`${name}/_security`, () =>
      ctx.couch.server.request({ db: name, path: "_security", method: "PUT", body: securityFor(ctx) }),
    );
  }
  ctx.counts.moved++;
  ctx.note(`${name}: _security set`);
}

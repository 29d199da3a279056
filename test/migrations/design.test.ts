import anyTest, { type TestFn } from "ava";
import { INVENTORY_DESIGN } from "../../migrations/0001-base.js";
import type { Db } from "../../migrations/lib/couch.js";
import { type DesignDoc, syncDesignDoc } from "../../migrations/lib/design.js";
import { migrateUp } from "../../migrations/lib/runner.js";
import type { MigrationContext } from "../../migrations/lib/types.js";
import { runOptions, useServices } from "./helpers.js";

// 0001's design docs and _security: a design doc changes only when its
// definition does, and a changed view is built under a staging name before
// the real one is swapped in (never served cold). An operator's _security stays.

const test = anyTest as TestFn;
const services = useServices(test);

function fakeContext(dryRun: boolean): MigrationContext {
  const s = services();
  const opts = runOptions(s, "unused", "unused");
  return { dryRun, settings: opts.settings, signal: new AbortController().signal, log: opts.log } as MigrationContext;
}

/** Records every write and view query made through a database handle, in order. */
function spy(db: Db, calls: string[]): Db {
  return new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "insert") calls.push(`put ${(args[0] as { _id: string })._id}`);
        if (prop === "view") calls.push(`view ${args[0]}/${args[1]}`);
        if (prop === "destroy") calls.push(`delete ${args[0]}`);
        return value.apply(target, args);
      };
    },
  });
}

test("a changed design doc is built under a staging name, then swapped in", async (t) => {
  const s = services();
  const report = await migrateUp(runOptions(s, "design", "pd", { to: 1 }));
  t.true(report.ok, report.error);
  const inventory = s.server.use<Record<string, unknown>>("design-inventory");
  await inventory.bulk({
    docs: [
      { _id: `${"a".repeat(40)}:prism1:store1`, hash: "a".repeat(40), prism: "prism1", store: "store1", size: 5 },
      { _id: `oose:inventory:${"b".repeat(40)}:prism1:store1`, hash: "b".repeat(40), prism: "prism1", store: "store1" },
    ],
  });
  const rev = (await inventory.get("_design/inventory"))._rev;

  const calls: string[] = [];
  t.is(await syncDesignDoc(fakeContext(false), spy(inventory, calls), INVENTORY_DESIGN), "unchanged");
  t.deepEqual(calls, [], "an unchanged design doc is not written");
  t.is((await inventory.get("_design/inventory"))._rev, rev);

  const changed: DesignDoc = {
    ...INVENTORY_DESIGN,
    views: { ...INVENTORY_DESIGN.views, bySize: { map: "function (doc) { if (doc.size) emit(doc.size, null); }" } },
  };
  t.is(await syncDesignDoc(fakeContext(true), spy(inventory, calls), changed), "updated");
  t.deepEqual(calls, [], "a dry run writes nothing");

  t.is(await syncDesignDoc(fakeContext(false), spy(inventory, calls), changed), "updated");
  const views = Object.keys(changed.views);
  t.deepEqual(calls, [
    "put _design/inventory_new",
    ...views.map((v) => `view inventory_new/${v}`),
    "put _design/inventory",
    ...views.map((v) => `view inventory/${v}`),
    "delete _design/inventory_new",
  ]);
  const doc = await inventory.get("_design/inventory");
  t.deepEqual(Object.keys((doc as unknown as { views: object }).views).sort(), [...views].sort());
  await t.throwsAsync(inventory.get("_design/inventory_new"), { message: /deleted|missing/ });
  const bySize = await inventory.view("inventory", "bySize", {});
  t.deepEqual(
    bySize.rows.map((r) => r.key),
    [5],
  );
  const byStore = await inventory.view("inventory", "byStore", { key: ["store1"] });
  t.is(byStore.rows.length, 1, "a leftover prefixed key never shows up in the views");
});

test("an operator's _security is kept; an empty one is set", async (t) => {
  const s = services();
  await s.server.db.create("sec-peer");
  const custom = { admins: { names: ["ops"], roles: [] }, members: { names: ["alice"], roles: [] } };
  await s.server.request({ db: "sec-peer", path: "_security", method: "PUT", body: custom });
  const report = await migrateUp(runOptions(s, "sec", "psec", { to: 1 }));
  t.true(report.ok, report.error);
  t.deepEqual(await s.server.request({ db: "sec-peer", path: "_security" }), custom);
  const inv = await s.server.request({ db: "sec-inventory", path: "_security" });
  t.deepEqual(inv.members.roles, ["oose"]);
  t.deepEqual(inv.admins.roles, ["_admin"]);
});

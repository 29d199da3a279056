import { type Couch, isConflict } from "../adapters/couch/index.js";
import { retrying } from "../adapters/couch/retry.js";
import { INVENTORY_DESIGN, KEYLIST_DESIGN } from "../../migrations/0001-base.js";

// A lost inventory database is rebuilt from the disks: `oose inventory scan`
// recreates it, empty and with its views (the design docs 0001 installs),
// before it records every file it finds. An existing database is left as it is.

export async function ensureInventoryDb(couch: Couch, note: (line: string) => void): Promise<void> {
  const name = couch.name("inventory");
  const names = await retrying("list databases", () => couch.server.db.list());
  if (names.includes(name)) return;
  await retrying(`create ${name}`, () => couch.server.db.create(name)).catch((err) => {
    if ((err as { statusCode?: number }).statusCode !== 412) throw err;
  });
  const db = couch.db<Record<string, unknown>>("inventory");
  for (const ddoc of [INVENTORY_DESIGN, KEYLIST_DESIGN])
    await retrying(`put ${ddoc._id}`, () => db.insert({ ...ddoc })).catch((err) => {
      if (!isConflict(err)) throw err;
    });
  note(`${name} was missing: created it with its views; the scan records this store's files in it`);
}

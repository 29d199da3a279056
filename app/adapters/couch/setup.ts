import { DB_KINDS, type Couch, LATER_DB_KINDS } from "./index.js";

/** Creates the OOSE databases that are missing. Safe to call on every start. */
export async function ensureDatabases(db: Couch): Promise<string[]> {
  const existing = new Set(await db.server.db.list());
  const created: string[] = [];
  for (const kind of [...DB_KINDS, ...LATER_DB_KINDS]) {
    const name = db.name(kind);
    if (existing.has(name)) continue;
    try {
      await db.server.db.create(name);
      created.push(name);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 412) throw err;
    }
  }
  return created;
}

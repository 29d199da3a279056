import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename } from "node:fs/promises";
import path from "node:path";
import { type Static, Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Config } from "../config.js";
import type { Inventory } from "../core/ports/inventory.js";
import { AppError } from "../errors.js";
import type { Logger } from "../log.js";

// A store knows its disk by a marker in its data root, written at first start.
// Without it, an unmounted disk (an empty folder on the root file system) looks
// like an empty store: it would take uploads onto the wrong disk, and verify
// or scan would forget every copy the real disk holds.

export const MARKER = "oose-store.json";

const IdentitySchema = T.Object({
  name: T.String({ minLength: 1 }),
  prism: T.String({ minLength: 1 }),
  id: T.String({ minLength: 1 }),
  createdAt: T.String(),
});
export type StoreIdentity = Static<typeof IdentitySchema>;

/** The data root is not this store's disk, or may not be: the store does not start. */
export class DiskNotRecognised extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("DISK_NOT_RECOGNISED", 503, message, details);
  }
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException)?.code === "ENOENT";

/** The marker under `dataRoot`; undefined when there is none. An unreadable marker is refused, never guessed at. */
export async function readIdentity(dataRoot: string): Promise<StoreIdentity | undefined> {
  const file = path.join(dataRoot, MARKER);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!Value.Check(IdentitySchema, value)) throw new DiskNotRecognised(`${file} is not a store marker`);
  return value;
}

/** Writes a new marker naming this store: to a temp name, fsynced, renamed, and the rename made durable. */
export async function writeIdentity(dataRoot: string, name: string, prism: string): Promise<StoreIdentity> {
  const identity: StoreIdentity = { name, prism, id: randomUUID(), createdAt: new Date().toISOString() };
  await mkdir(dataRoot, { recursive: true });
  const file = path.join(dataRoot, MARKER);
  const tmp = `${file}.${identity.id}.tmp`;
  const fh = await open(tmp, "wx", 0o644);
  try {
    await fh.writeFile(`${JSON.stringify(identity, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dir = await open(dataRoot, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return identity;
}

async function holdsContent(dataRoot: string): Promise<boolean> {
  try {
    return (await readdir(path.join(dataRoot, "content"))).length > 0;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** Whether any inventory doc names this store. CouchDB being down is an error, never "no copies". */
async function inventoryNames(inventory: Pick<Inventory, "copyIdPages">, store: string): Promise<boolean> {
  for await (const page of inventory.copyIdPages("store", store, { pageSize: 1000 })) if (page.length > 0) return true;
  return false;
}

/**
 * Checks, before anything touches the disk, that the data root is this store's:
 * its marker names this store; or, without a marker, the disk already holds
 * content (a store from before markers) or the inventory records no copies on
 * this store (a first start), and then the marker is written. Anything else
 * throws DiskNotRecognised: `oose store adopt` accepts a replaced disk.
 */
export async function checkIdentity(deps: {
  config: Config;
  inventory: Pick<Inventory, "copyIdPages">;
  log: Logger;
}): Promise<StoreIdentity> {
  const { dataRoot, name, prism } = deps.config;
  const log = deps.log.child({ part: "identity" });
  const refuse = (message: string, details: Record<string, unknown>): never => {
    const err = new DiskNotRecognised(message, { dataRoot, ...details });
    log.fatal({ code: err.code, ...err.details }, message);
    throw err;
  };
  let found: StoreIdentity | undefined;
  try {
    found = await readIdentity(dataRoot);
  } catch (err) {
    if (!(err instanceof DiskNotRecognised)) throw err;
    return refuse(`${err.message}: check the disk, or run \`oose store adopt\` to write a new one`, {});
  }
  if (found) {
    if (found.name === name && found.prism === prism) {
      log.info({ disk: found.id, since: found.createdAt }, "disk recognised");
      return found;
    }
    return refuse(
      `${dataRoot} is the disk of store ${found.name} (prism ${found.prism}), not of ${name} (prism ${prism}): ` +
        `check the mounts; if this disk is meant to be ${name}'s now, run \`oose store adopt\` with its config`,
      { marker: found },
    );
  }
  if (await holdsContent(dataRoot)) {
    const identity = await writeIdentity(dataRoot, name, prism);
    log.warn({ disk: identity.id }, "no disk marker, but the disk holds content: marker written");
    return identity;
  }
  if (await inventoryNames(deps.inventory, name)) {
    return refuse(
      `${dataRoot} has no ${MARKER} and no content, but the inventory records copies on ${name}: ` +
        "is the disk unmounted? Mount it and start again; if the disk was replaced on purpose, " +
        "run `oose store adopt` with this store's config, then `oose inventory scan --force`",
      {},
    );
  }
  const identity = await writeIdentity(dataRoot, name, prism);
  log.info({ disk: identity.id }, "first start on this disk: marker written");
  return identity;
}

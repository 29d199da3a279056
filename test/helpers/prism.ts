import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import nano from "nano";
import { PrismClient } from "../../packages/client/src/index.js";
import type { InventoryDoc } from "../../app/core/inventory.js";
import type { LocalCluster } from "../../infra/local/cluster.js";

// Client-side views of a running cluster for the prism tests: logged-in
// clients, what each store really holds on disk, and what the inventory says.

export const FOX = Buffer.from("The fox is brown");
export const FOX_SHA1 = "a03f181dc7dedcfb577511149b8844711efdb04f";

export async function loggedIn(cluster: LocalCluster, prism = 0): Promise<PrismClient> {
  const client = new PrismClient({ baseUrl: cluster.info.prisms[prism]!.url });
  await client.login(cluster.info.admin.username, cluster.info.admin.password);
  return client;
}

export function storeRoot(cluster: LocalCluster, store: string): string {
  return cluster.env[store]!.OOSE_DATA_ROOT!;
}

/** Stores whose disk holds `relativePath`, with the bytes found there. */
export function holdersOnDisk(cluster: LocalCluster, relativePath: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const s of cluster.info.stores) {
    const file = path.join(storeRoot(cluster, s.name), "content", relativePath);
    if (existsSync(file)) out.set(s.name, readFileSync(file));
  }
  return out;
}

/** Every file under every store's content and tmp dirs (to prove nothing was left behind). */
export function allFiles(cluster: LocalCluster): string[] {
  const walk = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir).flatMap((n) => {
          const p = path.join(dir, n);
          return statSync(p).isDirectory() ? walk(p) : [p];
        })
      : [];
  return cluster.info.stores.flatMap((s) => [
    ...walk(path.join(storeRoot(cluster, s.name), "content")),
    ...walk(path.join(storeRoot(cluster, s.name), "tmp")),
  ]);
}

export async function inventoryOf(cluster: LocalCluster, hash: string): Promise<InventoryDoc[]> {
  const db = nano(cluster.info.couchdb).use<InventoryDoc>("oose-inventory");
  const res = await db.list({ startkey: `${hash}:`, endkey: `${hash}:\ufff0`, include_docs: true });
  return res.rows.map((r) => r.doc as InventoryDoc);
}

export const zoneOf = (cluster: LocalCluster, store: string) => cluster.info.stores.find((s) => s.name === store)!.zone;

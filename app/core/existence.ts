import { copyId } from "./peer.js";
import type { InventoryDoc } from "./inventory.js";

// The existence record, OOSE's central answer to "where is this content?"
// (spec §5.4): the copies on live stores, as `<prism>:<store>`.

export interface ExistenceRecord {
  hash: string;
  mimeType: string | null;
  mimeExtension: string | null;
  relativePath: string | null;
  size: number | null;
  count: number;
  exists: boolean;
  map: string[];
}

export function existenceRecord(
  hash: string,
  copies: InventoryDoc[],
  isLive: (store: string) => boolean,
): ExistenceRecord {
  const first = copies[0];
  const live = copies.filter((c) => isLive(c.store));
  return {
    hash,
    mimeType: first?.mimeType ?? null,
    mimeExtension: first?.mimeExtension ?? null,
    relativePath: first?.relativePath ?? null,
    size: first?.size ?? null,
    count: live.length,
    // As in OOSE: known to the inventory even when every holder is down right now.
    exists: copies.length > 0,
    map: live.map((c) => copyId({ prism: c.prism, name: c.store })),
  };
}

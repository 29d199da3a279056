import mime from "mime-types";

// Inventory docs in `oose-inventory`, one per copy: `<hash>:<prism>:<store>`.
// Docs are read as they are, unvalidated: the delivery path reads them in
// bulk, and the migrations are what bring legacy shapes to this one.

export interface InventoryDoc {
  hash: string;
  prism: string;
  store: string;
  size: number;
  mimeType: string;
  /** Without the leading dot (OOSE's scanner stored ".txt"). */
  mimeExtension: string;
  relativePath: string;
  createdAt: string;
  verifiedAt?: number | null;
}

/** The MIME type recorded, and served, for an extension. */
export const mimeOf = (ext: string) => mime.lookup(ext) || "application/octet-stream";

/** The doc recording one copy of a file on a store. */
export function copyDoc(
  file: { hash: string; ext: string; size: number; relativePath: string },
  prism: string,
  store: string,
  createdAt: string,
): InventoryDoc {
  const { hash, ext, size, relativePath } = file;
  return { hash, prism, store, size, mimeType: mimeOf(ext), mimeExtension: ext, relativePath, createdAt };
}

export const inventoryKey = (hash: string, prism: string, store: string) => `${hash}:${prism}:${store}`;

/** Splits an inventoryKey `<hash>:<prism>:<store>`; undefined for ids of another shape. */
export function parseCopyId(id: string): { hash: string; prism: string; store: string } | undefined {
  const parts = id.split(":");
  if (parts.length !== 3 || parts.some((p) => p === "")) return undefined;
  return { hash: parts[0]!, prism: parts[1]!, store: parts[2]! };
}

/** All copies of a hash. The range ends with the separator, so `abc` never matches `abcd…`. */
export const hashRange = (hash: string) => ({ startkey: `${hash}:`, endkey: `${hash}:\ufff0` });

/** Redis channel on which stores announce that a hash's copies changed. */
export const INVENTORY_CHANNEL = (prefix: string) => `${prefix}:inventory:changed`;

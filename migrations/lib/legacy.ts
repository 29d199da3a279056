import mime from "mime-types";
import { isValidHash } from "../../app/core/hash.js";
import { type InventoryDoc, inventoryKey } from "../../app/core/inventory.js";
import { fromRelativePath, relativePath } from "../../app/core/layout.js";
import { type PeerDoc, peerKey } from "../../app/core/peer.js";
import { type Purchase, parseReferrer, parseTimestamp } from "../../app/core/purchase.js";
import type { AnyDoc } from "./couch.js";
import type { Transformed } from "./passes.js";

// OOSE 2.0.x–2.2 records → this version's docs. 2.0.x keys carry the `oose:`
// prefix (`oose:prism:<name>`, `oose:store:<prism>:<name>`,
// `oose:inventory:<hash>:<prism>:<store>`, `oose:purchase:<token>`,
// `oose:downvote:<castee>:<caster>`); the key is the authority for identity,
// the doc for everything else.

export const LEGACY_PREFIX = "oose";
export const legacyPrefix = (type: "prism" | "store" | "inventory" | "purchase" | "downvote") =>
  `${LEGACY_PREFIX}:${type}:`;

const str = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
const bool = (v: unknown, dflt: boolean) =>
  typeof v === "boolean" ? v : v === "true" ? true : v === "false" ? false : dflt;

/** `https://host:port` (OOSE 2.x nodes spoke HTTPS), brackets for IPv6. */
export function legacyUrl(host: string, port: number): string {
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export function peerFromLegacy(
  type: "prism" | "store",
  id: string,
  doc: AnyDoc,
  createdAt: string,
): Transformed & { peer?: PeerDoc } {
  const rest = id.slice(legacyPrefix(type).length).split(":");
  const [first, second] = rest;
  if (type === "prism" ? rest.length !== 1 || !first : rest.length !== 2 || !first || !second) {
    return { skip: `unexpected ${type} key` };
  }
  const prism = first!;
  const name = type === "prism" ? prism : second!;
  const host = str(doc.host);
  const port = Number(doc.port);
  if (!host) return { skip: "no host" };
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { skip: "no valid port" };
  const location = (doc.location ?? {}) as AnyDoc;
  const peer: PeerDoc = {
    type,
    name,
    ...(type === "store" ? { prism } : {}),
    host,
    port,
    url: legacyUrl(host, port),
    location: {
      site: str(location.site) ?? str(doc.site) ?? "local",
      zone: str(location.zone) ?? str(doc.zone) ?? str(doc.group) ?? prism,
      host: str(location.host) ?? host,
    },
    // Unknown availability counts as down until the node registers again.
    available: bool(doc.available, false),
    active: bool(doc.active, true),
    writable: bool(doc.writable, true),
    createdAt: str(doc.createdAt) ?? createdAt,
  };
  return { id: peerKey(type, name, prism), doc: peer, peer };
}

/** The extension as 3.0 stores it: no leading dot (OOSE's scanner kept it), lower case. */
export function cleanExtension(value: unknown): string | undefined {
  const ext = str(value)?.replace(/^\.+/, "").toLowerCase();
  return ext && /^[a-z0-9]{1,16}$/.test(ext) ? ext : undefined;
}

export function inventoryFromLegacy(key: string, doc: AnyDoc, createdAt: string): Transformed {
  const parts = key.split(":");
  if (parts.length !== 3 || parts.some((p) => p === "")) return { skip: "unexpected inventory key" };
  const [keyHash, prism, store] = parts as [string, string, string];
  const hash = (str(doc.hash) ?? keyHash).toLowerCase();
  if (!isValidHash(hash) || hash !== keyHash.toLowerCase()) return { skip: "invalid hash" };
  const fromPath = typeof doc.relativePath === "string" ? fromRelativePath(doc.relativePath) : undefined;
  const ext = cleanExtension(doc.mimeExtension) ?? fromPath?.ext;
  if (!ext) return { skip: "invalid extension" };
  const rel = fromPath && fromPath.hash === hash && fromPath.ext === ext ? doc.relativePath : relativePath(hash, ext);
  const size = Number(doc.size);
  const verifiedAt = parseTimestamp(doc.verifiedAt);
  const out: InventoryDoc = {
    hash,
    prism,
    store,
    size: Number.isInteger(size) && size >= 0 ? size : 0,
    mimeType: str(doc.mimeType) ?? (mime.lookup(ext) || "application/octet-stream"),
    mimeExtension: ext,
    relativePath: rel,
    createdAt: str(doc.createdAt) ?? createdAt,
    ...(verifiedAt !== undefined ? { verifiedAt } : {}),
  };
  return { id: inventoryKey(hash, prism, store), doc: out };
}

/** A 2.0.x key (`oose:inventory:<hash>:<prism>:<store>`) → its 2.1 key, or the same key when already short. */
export const shortInventoryKey = (id: string) =>
  id.startsWith(legacyPrefix("inventory")) ? id.slice(legacyPrefix("inventory").length) : id;

/** The token of a CouchDB purchase doc: `<token>` (2.1+) or `oose:purchase:<token>` (2.0.x). */
export function purchaseToken(id: string, doc: AnyDoc): string | undefined {
  const fromKey = id.startsWith(legacyPrefix("purchase")) ? id.slice(legacyPrefix("purchase").length) : id;
  const token = str(doc.token) ?? fromKey;
  return /^[A-Za-z0-9_-]{1,128}$/.test(token) && token === fromKey ? token : undefined;
}

/** A CouchDB purchase (2.0.x–2.2.0-tag, with its bloat) → the slim 2.2-final record. */
export function purchaseFromCouch(id: string, doc: AnyDoc): Purchase | { skip: string } {
  const token = purchaseToken(id, doc);
  if (!token) return { skip: "no valid token" };
  const hash = str(doc.hash)?.toLowerCase();
  if (!hash || !isValidHash(hash)) return { skip: "invalid hash" };
  const expirationDate = parseTimestamp(doc.expirationDate);
  if (expirationDate === undefined) return { skip: "no expirationDate" };
  const ext = cleanExtension(doc.ext) ?? cleanExtension(doc.inventory?.mimeExtension) ?? "";
  const life = parseTimestamp(doc.life);
  return { token, hash, ext, referrer: parseReferrer(doc.referrer), life: life ?? 0, expirationDate };
}

import { hash } from "node:crypto";
import { BadRequest, InvalidFileName } from "../errors.js";
import { fromRelativePath } from "./layout.js";

// Expiring delivery links, checked by the store's nginx with
//   secure_link $arg_md5,$arg_expires;
//   secure_link_md5 "$secure_link_expires$uri <key>";
// Content lives under DELIVERY_PREFIX so it never shares a location with
// /static or the store's own pages. Build links only through these helpers.

export const DELIVERY_PREFIX = "/c/";

/** Characters a key may hold: it is pasted verbatim into nginx's quoted secure_link_md5 string. */
export const SIGNING_KEY_PATTERN = /^[A-Za-z0-9._~+/=-]{16,256}$/;

/** The URI nginx checks for a layout path, e.g. `/c/a0/3f/…/4f.txt`. */
export function deliveryUri(relativePath: string): string {
  if (!fromRelativePath(relativePath)) throw new InvalidFileName(`Not a content path: ${relativePath.slice(0, 200)}`);
  return `${DELIVERY_PREFIX}${relativePath}`;
}

function checkKey(key: string): void {
  if (!SIGNING_KEY_PATTERN.test(key)) throw new BadRequest("Signing key has characters nginx cannot hold");
}

function signature(key: string, uriPath: string, expiresAtSec: number): string {
  if (!uriPath.startsWith("/") || /[?#\s%]/.test(uriPath)) throw new BadRequest("A signed URI must be a plain path");
  if (!Number.isSafeInteger(expiresAtSec) || expiresAtSec <= 0) throw new BadRequest("expires must be unix seconds");
  return `md5=${hash("md5", `${expiresAtSec}${uriPath} ${key}`, "base64url")}&expires=${expiresAtSec}`;
}

export interface DeliveryOptions {
  /**
   * The purchase token, for the store's access log. Outside the signature, so links signed without one (and
   * the stores' secure_link check) are as before; a client can change or drop it.
   */
  token?: string;
  /** Download under this name (Content-Disposition: attachment). */
  attach?: string;
  /** mp4/flv pseudo-streaming start offset in seconds. */
  start?: number;
  /** Bytes per second after the fast start; nginx caps it at the configured rate. */
  rate?: number;
}

/** Percent-encodes all but RFC 3986 unreserved characters, the set nginx passes into Content-Disposition. */
export function encodeAttachName(name: string): string {
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Builds `<publicUrl><uri>?md5=…&expires=…[&token=…&attach=…&start=…&rate=…]` with one
 * key, checked once; `uri` comes from deliveryUri.
 */
export function deliverySigner(key: string) {
  checkKey(key);
  return (publicUrl: string, uri: string, expiresAtSec: number, opts: DeliveryOptions = {}): string => {
    let query = signature(key, uri, expiresAtSec);
    if (opts.token) query += `&token=${encodeURIComponent(opts.token)}`;
    if (opts.attach) query += `&attach=${encodeAttachName(opts.attach)}`;
    if (opts.start !== undefined) query += `&start=${opts.start}`;
    if (opts.rate !== undefined) query += `&rate=${Math.floor(opts.rate)}`;
    return `${publicUrl.endsWith("/") ? publicUrl.slice(0, -1) : publicUrl}${uri}?${query}`;
  };
}

import { InvalidFileName } from "../errors.js";
import type { InventoryDoc } from "../core/inventory.js";
import type { Peer } from "../core/peer.js";
import type { Endpoint } from "../client/health.js";
import type { StorePool } from "../client/pool.js";
import { routedAround } from "../metrics/index.js";

export interface LiveCopy {
  copy: InventoryDoc;
  peer: Peer;
}

/**
 * Orders live copies for reading: stores this prism suspects last (for the
 * endpoint the reader will use: the API for downloads, nginx for redirects),
 * the one that answered most recently first among them, so a file whose every
 * holder is suspect is still served by the likeliest one rather than refused;
 * then least transfers in flight first, random among equals, so every copy
 * takes a share (OOSE sent each new token to the alphabetically first holder).
 */
export function readOrder(
  copies: LiveCopy[],
  pool: StorePool,
  via: Endpoint = "api",
  random: () => number = Math.random,
): LiveCopy[] {
  const ranked = copies
    .map((c) => ({
      c,
      suspicion: pool.health.suspicion(c.peer.name, via),
      key: pool.load(c.peer.name) + random(),
    }))
    // Infinity - Infinity is NaN, which falls through to the load.
    .sort((a, b) => a.suspicion - b.suspicion || a.key - b.key);
  // A reader that starts on a store above suspicion has routed around every suspect behind it.
  if (ranked[0]?.suspicion === 0) {
    for (const r of ranked) if (r.suspicion > 0) noteRoutedAround(pool, r.c.peer.name, via);
  }
  return ranked.map((x) => x.c);
}

/** Counts a store avoided because this prism suspects it, by why. */
export function noteRoutedAround(pool: Pick<StorePool, "health">, store: string, via: Endpoint): void {
  routedAround.inc({ store, reason: pool.health.reason(store, via) ?? "suspect" });
}

/** The store's nginx base URL as end users reach it. */
export function publicBase(peer: Peer, domain: string, proto: "http" | "https"): string {
  return peer.publicUrl ?? `${proto}://${peer.name}.${domain}`;
}

/** http or https for redirects: X-Forwarded-Proto, or OOSE's X-Forwarded-Protocol. */
export function forwardedProto(headers: Record<string, string | string[] | undefined>, fallback: "http" | "https") {
  const raw = headers["x-forwarded-proto"] ?? headers["x-forwarded-protocol"];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.split(",")[0]?.trim().toLowerCase();
  return value === "https" || value === "http" ? value : fallback;
}

/** The cosmetic file name in delivery URLs: never a path (OOSE ignored it entirely). */
export function checkDisplayName(name: string): string {
  if (/[/\\\0]/.test(name) || name.includes("..")) throw new InvalidFileName("Invalid file name");
  return name;
}

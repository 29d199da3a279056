import type { Peer } from "../core/peer.js";
import { InvalidFileName } from "../errors.js";

// What goes into the links a prism hands out: the store's public base, the
// scheme the client used, and the cosmetic file name.

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

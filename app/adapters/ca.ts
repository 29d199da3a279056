import { readFileSync } from "node:fs";

// The CA a backend (CouchDB, Redis, Sentinel) is verified against: config gives
// a file, or the PEM itself (a container's env carries it so).

export function backendCa(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.includes("-----BEGIN CERTIFICATE-----") ? value : readFileSync(value, "utf8");
}

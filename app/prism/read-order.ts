import type { LiveHolder } from "../core/peer.js";
import { routedAround } from "../metrics/index.js";
import type { Endpoint } from "../routing/health.js";
import type { StorePool } from "../routing/pool.js";

/**
 * Orders live copies for reading: stores this prism suspects last (for the
 * endpoint the reader will use: the API for downloads, nginx for redirects),
 * the one that answered most recently first among them, so a file whose every
 * holder is suspect is still served by the likeliest one rather than refused;
 * then least transfers in flight first, random among equals, so every copy
 * takes a share (OOSE sent each new token to the alphabetically first holder).
 */
export function readOrder(
  copies: LiveHolder[],
  pool: StorePool,
  via: Endpoint = "api",
  random: () => number = Math.random,
): LiveHolder[] {
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

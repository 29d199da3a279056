// Hot-content scaling decisions, pure. A hash delivered `rate` times within
// the window, at or above the threshold, wants one extra copy per threshold's
// worth of deliveries, up to maxReplicas. Cooling removes only the copies added
// for heat, and never below the base replica count.

export interface HotSettings {
  threshold: number;
  maxReplicas: number;
  /** The base replica count (config `replicas`). */
  replicas: number;
}

/** Copies a hash delivered `rate` times in the window should have (never fewer than the base). */
export function wantedCopies(rate: number, s: HotSettings): number {
  if (rate < s.threshold) return s.replicas;
  return Math.max(s.replicas, Math.min(s.maxReplicas, s.replicas + Math.floor(rate / s.threshold)));
}

/**
 * Which extra copies a cooled hash loses: those still live, as many as keep
 * it at or above the base count. `live` are the stores with a live copy now.
 */
export function coolingDrops(live: string[], extras: string[], replicas: number): number {
  const liveExtras = extras.filter((s) => live.includes(s)).length;
  return Math.max(0, Math.min(liveExtras, live.length - replicas));
}

/** A store's share of recent deliveries as a placement load (0 … 8): enough to outweigh free space, so hot copies go to the least-loaded stores. */
export function deliveryLoad(load: Map<string, number>, store: string): number {
  const max = Math.max(0, ...load.values());
  return max === 0 ? 0 : (8 * (load.get(store) ?? 0)) / max;
}

// Where new copies go. Replicas spread over failure domains in the order
// prism → zone → host → store, then balance on free space and current load.
// Never alphabetical, never per-token hit counters (OOSE's hot-spot).

export interface Candidate {
  name: string;
  prism: string;
  zone: string;
  host: string;
  /** Free bytes on the store's disk, when known. */
  free?: number;
  /** Transfers in flight to this store from this prism. */
  load: number;
}

/** How stores equal on failure domains are ranked (config `placement`). */
export interface PlacementWeights {
  /** What one transfer in flight costs, in shares of free space. */
  loadWeight: number;
  /** The space share counted for a store whose free space is not known. */
  unknownFree: number;
}

export const DEFAULT_WEIGHTS: PlacementWeights = { loadWeight: 0.25, unknownFree: 0.5 };

export interface Holder {
  prism: string;
  zone: string;
  host: string;
  name: string;
}

/** How many failure domains `c` shares with the chosen set; lower is better, compared level by level. */
function overlap(c: Candidate, chosen: Holder[]): [number, number, number] {
  return [
    chosen.filter((h) => h.prism === c.prism).length,
    chosen.filter((h) => h.zone === c.zone).length,
    chosen.filter((h) => h.host === c.host).length,
  ];
}

const compareTuples = (a: number[], b: number[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
};

/**
 * Higher is better: plenty of free space, few transfers in flight. Space counts
 * in whole percent of the roomiest store, so disks that differ by a few bytes
 * tie (and the random tie-break spreads the work) instead of one always winning.
 */
function score(c: Candidate, maxFree: number, w: PlacementWeights): number {
  const space = c.free === undefined || maxFree === 0 ? w.unknownFree : Math.round((c.free / maxFree) * 100) / 100;
  return space - c.load * w.loadWeight;
}

/**
 * Orders candidates for `count` new copies, given existing holders. The first
 * `count` entries are the placement; the rest are fallbacks, in the same order
 * of preference, for when a chosen store fails.
 */
export function rankStores(
  candidates: Candidate[],
  count: number,
  holders: Holder[] = [],
  weights: PlacementWeights = DEFAULT_WEIGHTS,
  random: () => number = Math.random,
): Candidate[] {
  const pool = candidates.filter((c) => !holders.some((h) => h.name === c.name));
  const maxFree = Math.max(0, ...pool.map((c) => c.free ?? 0));
  // A random tie-break so equal stores share the work instead of the first one taking it all.
  const jitter = new Map(pool.map((c) => [c.name, random() * 0.009]));
  const chosen: Holder[] = [...holders];
  const ranked: Candidate[] = [];
  while (pool.length > 0) {
    pool.sort(
      (a, b) =>
        compareTuples(overlap(a, chosen), overlap(b, chosen)) ||
        score(b, maxFree, weights) + jitter.get(b.name)! - (score(a, maxFree, weights) + jitter.get(a.name)!),
    );
    const next = pool.shift()!;
    ranked.push(next);
    if (ranked.length <= count) chosen.push(next);
  }
  return ranked;
}

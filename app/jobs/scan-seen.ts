// The hashes pass 1 of the scan found on disk, for pass 2 to skip the disk for
// them: a scalable Bloom filter (stages of doubling capacity, each with half
// the false-positive rate of the one before, so the total stays under twice
// the first stage's). About 1.8 MB per million hashes; never a list of them.
// A false positive only means a doc whose file is gone survives this run: the
// next run draws new seeds, so it is caught then.

/** 32-bit hash of a string (Murmur3's mixing), seeded. */
function hash32(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= s.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

class Stage {
  readonly bits: Uint8Array;
  readonly m: number;
  readonly k: number;
  count = 0;

  constructor(
    readonly capacity: number,
    fpRate: number,
  ) {
    this.m = Math.max(64, Math.ceil((-capacity * Math.log(fpRate)) / Math.LN2 ** 2));
    this.k = Math.max(1, Math.round((this.m / capacity) * Math.LN2));
    this.bits = new Uint8Array(Math.ceil(this.m / 8));
  }

  add(h1: number, h2: number): void {
    const step = h2 | 1;
    for (let i = 0; i < this.k; i++) {
      const bit = ((h1 + Math.imul(i, step)) >>> 0) % this.m;
      this.bits[bit >>> 3]! |= 1 << (bit & 7);
    }
    this.count++;
  }

  has(h1: number, h2: number): boolean {
    const step = h2 | 1;
    for (let i = 0; i < this.k; i++) {
      const bit = ((h1 + Math.imul(i, step)) >>> 0) % this.m;
      if ((this.bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }
}

export class SeenHashes {
  private readonly stages: Stage[] = [];
  private readonly seeds: [number, number];

  constructor(
    private readonly firstCapacity = 1_000_000,
    private readonly fpRate = 0.001,
    random: () => number = Math.random,
  ) {
    this.seeds = [Math.floor(random() * 2 ** 32), Math.floor(random() * 2 ** 32)];
    this.grow();
  }

  private grow(): void {
    const i = this.stages.length;
    this.stages.push(new Stage(this.firstCapacity * 2 ** i, this.fpRate / 2 ** i));
  }

  private hashes(value: string): [number, number] {
    return [hash32(value, this.seeds[0]), hash32(value, this.seeds[1])];
  }

  add(value: string): void {
    const [h1, h2] = this.hashes(value);
    let last = this.stages.at(-1)!;
    if (last.count >= last.capacity) {
      this.grow();
      last = this.stages.at(-1)!;
    }
    last.add(h1, h2);
  }

  /** False: certainly never added. True: added, or (rarely) a false positive. */
  has(value: string): boolean {
    const [h1, h2] = this.hashes(value);
    return this.stages.some((s) => s.has(h1, h2));
  }

  get bytes(): number {
    return this.stages.reduce((n, s) => n + s.bits.length, 0);
  }
}

// A token bucket over bytes: transfers reserve their size and wait for the
// returned delay, so their sum stays near `rate` bytes per second. A transfer
// larger than the burst goes into debt, which the next ones wait out.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    /** Bytes per second; 0 means no cap. */
    private readonly rate: number,
    private readonly burst: number = rate,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `bytes` and answers how many ms the caller must wait before sending them. */
  reserve(bytes: number): number {
    if (this.rate <= 0) return 0;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }
}

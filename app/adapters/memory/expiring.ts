// A map whose entries expire, on an injectable clock: the TTL keys of the
// in-memory stores.

export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly now: () => number) {}

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e && e.until <= this.now()) this.entries.delete(key);
    return this.entries.get(key)?.value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.set(key, { value, until: this.now() + ttlMs });
  }

  /** Replaces the value and keeps the expiry; false when there is no live entry. */
  replace(key: string, value: V): boolean {
    const e = this.entries.get(key);
    if (!e || !this.has(key)) return false;
    e.value = value;
    return true;
  }

  /** A new TTL from now; false when there is no live entry. */
  expire(key: string, ttlMs: number): boolean {
    const value = this.get(key);
    if (value === undefined) return false;
    this.set(key, value, ttlMs);
    return true;
  }

  delete(key: string): boolean {
    const had = this.has(key);
    this.entries.delete(key);
    return had;
  }
}

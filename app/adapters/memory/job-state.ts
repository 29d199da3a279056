import type { JobState } from "../../core/ports/job-state.js";

// Job state in one process's memory, stored as JSON text like the Redis one,
// so a record read back is a copy, never the writer's object.

export class MemoryJobState implements JobState {
  private readonly records = new Map<string, string>();
  private readonly maps = new Map<string, Map<string, string>>();

  async read<T>(key: string): Promise<T | undefined> {
    const raw = this.records.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  async readMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    return Promise.all(keys.map((k) => this.read<T>(k)));
  }

  async write(key: string, value: unknown): Promise<void> {
    this.records.set(key, JSON.stringify(value));
  }

  async entries<T>(key: string): Promise<Map<string, T>> {
    return new Map([...(this.maps.get(key) ?? [])].map(([k, v]) => [k, JSON.parse(v) as T]));
  }

  async setEntry(key: string, field: string, value: unknown): Promise<void> {
    const map = this.maps.get(key) ?? new Map<string, string>();
    map.set(field, JSON.stringify(value));
    this.maps.set(key, map);
  }

  async deleteEntry(key: string, field: string): Promise<void> {
    this.maps.get(key)?.delete(field);
  }
}

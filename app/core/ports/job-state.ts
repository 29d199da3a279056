// The state long-running jobs keep in the shared store: JSON status records
// (heal, repair, scrub) and JSON maps (repair's store → outage). Keys are
// whole (prefix included), so every runner on every node reads the same.

export interface JobState {
  read<T>(key: string): Promise<T | undefined>;
  /** Several records in one request, in order. */
  readMany<T>(keys: string[]): Promise<Array<T | undefined>>;
  write(key: string, value: unknown): Promise<void>;
  entries<T>(key: string): Promise<Map<string, T>>;
  setEntry(key: string, field: string, value: unknown): Promise<void>;
  deleteEntry(key: string, field: string): Promise<void>;
}

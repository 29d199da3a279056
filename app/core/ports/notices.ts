// Change notices between nodes (cache invalidations). A notice missed while
// the channel was away cannot be replayed: `onResync` tells caches to read again.

export interface Notices {
  on(channel: string, handler: (message: string) => void): void;
  onResync(handler: () => void): void;
  /** Sends a notice to every node listening on `channel`; resolves once sent (not once heard). */
  publish(channel: string, message: string): Promise<void>;
}

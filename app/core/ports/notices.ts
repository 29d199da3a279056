// Change notices between nodes (cache invalidations). A notice missed while
// the channel was away cannot be replayed: `onResync` tells caches to read again.

export interface Notices {
  on(channel: string, handler: (message: string) => void): void;
  onResync(handler: () => void): void;
}

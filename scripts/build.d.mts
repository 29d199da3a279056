export const ROOT: string;
export const DIST: string;
export function isFresh(): boolean;
export function ensureBuilt(o?: { strict?: boolean }): void;
export function ensureClientBuilt(): void;

import type { Vote } from "../heartbeat.js";

// The heartbeat's down-votes (`oose-heartbeat`, `down:<castee>:<caster>`).

/** A vote as read, with its key; `rev` tells a later removal whether it was renewed since. */
export type ReadVote = Vote & { id: string; rev: string };

export interface Votes {
  /** Casts or renews the caster's vote against the castee. */
  cast(vote: Vote): Promise<void>;
  /** The votes against one peer (never those against a peer whose key extends it). */
  against(castee: string): Promise<ReadVote[]>;
  all(): Promise<ReadVote[]>;
  /** Deletes these votes, except those renewed or removed since they were read. */
  remove(votes: ReadVote[]): Promise<void>;
  /** Deletes the caster's own vote against the castee, if any. */
  withdraw(castee: string, caster: string): Promise<void>;
  /** Deletes every vote against one peer. */
  clear(castee: string): Promise<void>;
}

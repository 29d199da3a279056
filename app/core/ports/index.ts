export type { Blob, Blobs, CopyCheck, Digest, LocalCopies, Received } from "./blobs.js";
export type { CopyId, CopyWrite, Inventory, Owner, PageOptions, StoredCopy, WriteOutcome } from "./inventory.js";
export type { JobState } from "./job-state.js";
export type { Lease, Leases } from "./lease.js";
export type { PeerDirectory, PeerView, SelfConfig } from "./peers.js";
export type { ReadVote, Votes } from "./votes.js";

// Heartbeat votes (pure). A vote `down:<castee>:<caster>` says the caster could
// not reach the castee. Ranges end with ':' so `store1` never matches `store10`.
// A vote counts until it is voteLife old; the caster renews it while the peer
// stays unreachable. Majority is over the active peers other than the castee
// (OOSE counted inactive peers and the voter's target itself).

export interface Vote {
  castee: string;
  caster: string;
  castAt: number;
  reason: string;
}

export const voteKey = (castee: string, caster: string) => `down:${castee}:${caster}`;
export const votesAgainst = (castee: string) => ({ startkey: `down:${castee}:`, endkey: `down:${castee}:\ufff0` });
export const allVotes = { startkey: "down:", endkey: "down:\ufff0" };

export const isCurrent = (v: Vote, now: number, voteLife: number) => now - v.castAt < voteLife;

/** Votes needed to mark a peer down: a strict majority of the other active peers. */
export function majority(activeOthers: number): number {
  return Math.floor(activeOthers / 2) + 1;
}

export function isDown(votes: Vote[], activeVoters: Set<string>, now: number, voteLife: number): boolean {
  const counted = new Set(votes.filter((v) => isCurrent(v, now, voteLife) && activeVoters.has(v.caster)).map((v) => v.caster));
  return counted.size >= majority(activeVoters.size);
}

/** The next round's delay: base frequency plus a random slide, so rounds of many nodes never line up. */
export function nextDelay(frequency: number, jitter: number, random: () => number = Math.random): number {
  return frequency + Math.floor(random() * (jitter + 1));
}

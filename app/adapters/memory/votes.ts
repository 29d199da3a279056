import { type Vote, voteKey } from "../../core/heartbeat.js";
import type { ReadVote, Votes } from "../../core/ports/votes.js";

// Heartbeat votes in one process's memory, with revisions, so a removal of a
// vote renewed since it was read leaves the renewal standing, as in CouchDB.

export class MemoryVotes implements Votes {
  private readonly votes = new Map<string, { vote: Vote; rev: number }>();

  async cast(vote: Vote): Promise<void> {
    const id = voteKey(vote.castee, vote.caster);
    this.votes.set(id, { vote: { ...vote }, rev: (this.votes.get(id)?.rev ?? 0) + 1 });
  }

  private read(prefix: string): ReadVote[] {
    return [...this.votes.keys()]
      .filter((id) => id.startsWith(prefix))
      .sort()
      .map((id) => {
        const v = this.votes.get(id)!;
        return { ...v.vote, id, rev: String(v.rev) };
      });
  }

  async against(castee: string): Promise<ReadVote[]> {
    return this.read(`down:${castee}:`);
  }

  async all(): Promise<ReadVote[]> {
    return this.read("down:");
  }

  async remove(votes: ReadVote[]): Promise<void> {
    for (const v of votes) if (String(this.votes.get(v.id)?.rev) === v.rev) this.votes.delete(v.id);
  }

  async withdraw(castee: string, caster: string): Promise<void> {
    this.votes.delete(voteKey(castee, caster));
  }

  async clear(castee: string): Promise<void> {
    for (const v of this.read(`down:${castee}:`)) this.votes.delete(v.id);
  }
}

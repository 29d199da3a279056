import { allVotes, type Vote, voteKey, votesAgainst } from "../../core/heartbeat.js";
import type { ReadVote, Votes } from "../../core/ports/votes.js";
import { type Couch, couch, getOrUndefined, upsert } from "./index.js";

// The Votes port on CouchDB (`oose-heartbeat`, `down:<castee>:<caster>`).

type Row = { id: string; value: { rev: string }; doc?: Vote | null };

const read = (rows: Row[]): ReadVote[] =>
  rows.flatMap((r) => {
    if (!r.doc) return [];
    const { _id, _rev, ...vote } = r.doc as Vote & { _id?: string; _rev?: string };
    return [{ ...vote, id: r.id, rev: r.value.rev }];
  });

export class CouchVotes implements Votes {
  constructor(private readonly db: Couch) {}

  private get votes() {
    return this.db.db<Vote>("heartbeat");
  }

  async cast(vote: Vote): Promise<void> {
    await upsert<Vote>(this.votes, voteKey(vote.castee, vote.caster), () => vote);
  }

  async against(castee: string): Promise<ReadVote[]> {
    const res = await couch("votes", () => this.votes.list({ ...votesAgainst(castee), include_docs: true }));
    return read(res.rows as Row[]);
  }

  async all(): Promise<ReadVote[]> {
    const res = await couch("votes", () => this.votes.list({ ...allVotes, include_docs: true }));
    return read(res.rows as Row[]);
  }

  async remove(votes: ReadVote[]): Promise<void> {
    await this.deleteRows(votes.map((v) => ({ id: v.id, rev: v.rev })));
  }

  async withdraw(castee: string, caster: string): Promise<void> {
    const id = voteKey(castee, caster);
    const vote = await getOrUndefined(this.votes, id);
    if (vote) await this.deleteRows([{ id, rev: vote._rev }]);
  }

  async clear(castee: string): Promise<void> {
    const res = await couch("votes", () => this.votes.list(votesAgainst(castee)));
    await this.deleteRows(res.rows.map((r) => ({ id: r.id, rev: r.value.rev })));
  }

  private async deleteRows(rows: { id: string; rev: string }[]): Promise<void> {
    if (rows.length === 0) return;
    const docs = rows.map((r) => ({ _id: r.id, _rev: r.rev, _deleted: true }));
    const results = await couch("delete votes", () => this.votes.bulk({ docs }));
    // A conflict means someone renewed or removed the vote meanwhile: theirs stands.
    const failed = results.find((r) => r.error && r.error !== "conflict");
    if (failed) throw new Error(`vote delete failed: ${failed.error}`);
  }
}

import test from "ava";
import { CouchVotes } from "../../app/adapters/couch/votes.js";
import { MemoryVotes } from "../../app/adapters/memory/votes.js";
import type { Vote } from "../../app/core/heartbeat.js";
import type { Votes } from "../../app/core/ports/votes.js";
import { contract, useCouch } from "../helpers/contract.js";

// One body of tests for the heartbeat's Votes port, against CouchDB (the
// stand-in) and the memory votes: votes against one peer are that peer's
// only, a renewal replaces a vote, and a removal never takes a vote renewed
// after it was read.

const couch = useCouch(test);

const S1 = "store:p1:s1";
const S10 = "store:p1:s10";
const vote = (castee: string, caster: string, castAt = 1000): Vote => ({
  castee,
  caster,
  castAt,
  reason: "3 failed pings",
});
const pairs = (votes: Vote[]) => votes.map((v) => `${v.castee}<-${v.caster}`).sort();

contract<Votes>(
  test,
  [
    { name: "couch", make: async () => ({ port: new CouchVotes((await couch()).couch) }) },
    { name: "memory", make: async () => ({ port: new MemoryVotes() }) },
  ],
  {
    "the votes against one peer are that peer's only; a renewal replaces the vote": async (t, votes) => {
      await votes.cast(vote(S1, "prism:a"));
      await votes.cast(vote(S1, "prism:b"));
      await votes.cast(vote(S10, "prism:a"));
      await votes.cast(vote(S1, "prism:a", 2000));
      const against = await votes.against(S1);
      t.deepEqual(pairs(against), [`${S1}<-prism:a`, `${S1}<-prism:b`]);
      t.is(against.find((v) => v.caster === "prism:a")!.castAt, 2000);
      t.like(against[0], { reason: "3 failed pings" });
      t.deepEqual(pairs(await votes.against(S10)), [`${S10}<-prism:a`]);
      t.deepEqual(pairs(await votes.all()), [`${S10}<-prism:a`, `${S1}<-prism:a`, `${S1}<-prism:b`].sort());
      t.deepEqual(await votes.against("store:p1:s2"), []);
    },

    "a removal takes the votes as read, never one renewed since": async (t, votes) => {
      await votes.cast(vote(S1, "prism:a"));
      await votes.cast(vote(S1, "prism:b"));
      const read = await votes.all();
      await votes.cast(vote(S1, "prism:b", 5000));
      await votes.remove(read);
      const left = await votes.all();
      t.deepEqual(pairs(left), [`${S1}<-prism:b`]);
      t.is(left[0]!.castAt, 5000);
      await votes.remove([]);
    },

    "withdrawing takes one caster's vote; clearing takes every vote against one peer": async (t, votes) => {
      await votes.cast(vote(S1, "prism:a"));
      await votes.cast(vote(S1, "prism:b"));
      await votes.cast(vote(S10, "prism:a"));
      await votes.withdraw(S1, "prism:a");
      await votes.withdraw(S1, "prism:nobody");
      t.deepEqual(pairs(await votes.against(S1)), [`${S1}<-prism:b`]);
      await votes.cast(vote(S1, "prism:c"));
      await votes.clear(S1);
      t.deepEqual(await votes.against(S1), []);
      t.deepEqual(pairs(await votes.all()), [`${S10}<-prism:a`]);
    },
  },
);

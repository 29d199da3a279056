import test from "ava";
import { openCouch } from "../../app/adapters/couch/index.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import { CouchVotes } from "../../app/adapters/couch/votes.js";
import { MemoryVotes } from "../../app/adapters/memory/votes.js";
import type { Vote } from "../../app/core/heartbeat.js";
import type { Votes } from "../../app/core/ports/votes.js";
import { type Backends, startBackends } from "../helpers/store-node.js";

// One body of tests for the heartbeat's Votes port, against CouchDB (the
// stand-in) and the memory votes: votes against one peer are that peer's
// only, a renewal replaces a vote, and a removal never takes a vote renewed
// after it was read.

let backends: Backends | undefined;
let dbs = 0;

test.before(async () => {
  backends = await startBackends();
});
test.after.always(async () => {
  await backends?.stop();
});

const impls: Array<[string, () => Promise<Votes>]> = [
  [
    "couch",
    async () => {
      const couch = openCouch({ url: backends!.couchUrl, database: `votes${++dbs}`, timeoutMs: 5000 });
      await ensureDatabases(couch);
      return new CouchVotes(couch);
    },
  ],
  ["memory", async () => new MemoryVotes()],
];

const S1 = "store:p1:s1";
const S10 = "store:p1:s10";
const vote = (castee: string, caster: string, castAt = 1000): Vote => ({
  castee,
  caster,
  castAt,
  reason: "3 failed pings",
});
const pairs = (votes: Vote[]) => votes.map((v) => `${v.castee}<-${v.caster}`).sort();

for (const [name, make] of impls) {
  test(`${name}: the votes against one peer are that peer's only; a renewal replaces the vote`, async (t) => {
    const votes = await make();
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
  });

  test(`${name}: a removal takes the votes as read, never one renewed since`, async (t) => {
    const votes = await make();
    await votes.cast(vote(S1, "prism:a"));
    await votes.cast(vote(S1, "prism:b"));
    const read = await votes.all();
    await votes.cast(vote(S1, "prism:b", 5000));
    await votes.remove(read);
    const left = await votes.all();
    t.deepEqual(pairs(left), [`${S1}<-prism:b`]);
    t.is(left[0]!.castAt, 5000);
    await votes.remove([]);
  });

  test(`${name}: withdrawing takes one caster's vote; clearing takes every vote against one peer`, async (t) => {
    const votes = await make();
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
  });
}

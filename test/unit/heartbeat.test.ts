import test from "ava";
import { isDown, majority, nextDelay, type Vote, votesAgainst } from "../../app/core/heartbeat.js";

const vote = (caster: string, castAt: number): Vote => ({ castee: "store:prism1:store1", caster, castAt, reason: "timeout" });

test("majority of the other active peers", (t) => {
  t.is(majority(1), 1);
  t.is(majority(2), 2);
  t.is(majority(5), 3);
  t.is(majority(6), 4);
});

test("a peer is down once a majority of active voters hold current votes", (t) => {
  const voters = new Set(["a", "b", "c", "d", "e"]);
  t.false(isDown([vote("a", 0), vote("b", 0)], voters, 10, 60_000));
  t.true(isDown([vote("a", 0), vote("b", 0), vote("c", 0)], voters, 10, 60_000));
});

test("expired votes and votes of inactive peers do not count", (t) => {
  const voters = new Set(["a", "b", "c"]);
  t.false(isDown([vote("a", 0), vote("b", 0)], voters, 60_000, 60_000), "both expired");
  t.false(isDown([vote("a", 0), vote("x", 0)], voters, 10, 60_000), "x is not an active voter");
  t.true(isDown([vote("a", 0), vote("a", 5), vote("b", 5)], voters, 10, 60_000));
});

test("vote ranges end with the separator", (t) => {
  const r = votesAgainst("store1");
  t.true("down:store10:prism1" > r.endkey || "down:store10:prism1" < r.startkey);
  t.true("down:store1:prism1" >= r.startkey && "down:store1:prism1" <= r.endkey);
});

test("rounds slide by a bounded random amount", (t) => {
  t.is(nextDelay(5000, 1000, () => 0), 5000);
  t.is(nextDelay(5000, 1000, () => 0.9999), 6000);
});

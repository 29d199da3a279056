import test from "ava";
import { retrying } from "../../app/adapters/couch/retry.js";
import { BackendUnavailable, DatabaseMissing } from "../../app/errors.js";

// Long runs wait out a CouchDB that is briefly away, but not a missing
// database: no wait brings one back, and a dry run or a tool should say so at once.

test("an outage is retried until CouchDB answers", async (t) => {
  let calls = 0;
  const answer = await retrying("list", async () => {
    if (++calls < 2) throw new BackendUnavailable("CouchDB unavailable (list)");
    return "ok";
  });
  t.is(answer, "ok");
  t.is(calls, 2);
});

test("a missing database fails on the first call", async (t) => {
  let calls = 0;
  await t.throwsAsync(
    retrying("fetch", async () => {
      calls++;
      throw new DatabaseMissing("CouchDB database missing (fetch)");
    }),
    { instanceOf: DatabaseMissing },
  );
  t.is(calls, 1);
});

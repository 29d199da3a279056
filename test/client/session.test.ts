import { setTimeout as sleep } from "node:timers/promises";
import test from "ava";
import { UnauthorizedError, UnavailableError } from "../../packages/client/src/index.js";
import { SessionClock } from "../../packages/client/src/session.js";

// Background renewal on its own clock: due before the end, tried again after
// a failure while the session lasts, given up after a 401.

test("renews before the end, tries again after a failure, gives up after a 401", async (t) => {
  const errors: unknown[] = [];
  const at: number[] = [];
  const start = Date.now();
  const clock: SessionClock = new SessionClock(
    { lifeMs: 1000, renewBeforeMs: 500, autoRenew: true, onRenewError: (err) => errors.push(err) },
    async () => {
      at.push(Date.now() - start);
      if (at.length === 1) throw new UnavailableError("BACKEND_UNAVAILABLE", 503, "Backend unavailable");
      if (at.length === 3) throw new UnauthorizedError("UNAUTHORIZED", 401, "Session expired or unknown");
      clock.started(Date.now());
    },
  );
  t.teardown(() => clock.stop());
  clock.started(start);
  await sleep(2000);
  t.is(at.length, 3, `renewals at ${at.join(", ")} ms`);
  t.true(at[0]! >= 490 && at[0]! < 1000, "the first is due 500 ms before the end");
  t.true(at[1]! < 1000, "the retry comes before the session ends");
  t.true(errors[0] instanceof UnavailableError && errors[1] instanceof UnauthorizedError);
});

test("without autoRenew nothing runs in the background", async (t) => {
  let renewed = 0;
  const clock = new SessionClock({ lifeMs: 100 }, async () => {
    renewed++;
  });
  clock.started(Date.now());
  t.true(clock.expiresAt! - Date.now() <= 100);
  await sleep(300);
  t.is(renewed, 0);
});

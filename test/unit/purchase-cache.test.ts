import test from "ava";
import type { PurchaseStore } from "../../app/core/ports/purchases.js";
import type { Purchase } from "../../app/core/purchase.js";
import { BackendUnavailable } from "../../app/errors.js";
import { Purchases } from "../../app/prism/purchases.js";

// A prism's copies of purchases: fresh for cacheLife, read again after, and
// answering by themselves while the store fails or stalls; change notices and
// gaps in the subscription keep them right.

const TOKEN = "T".repeat(64);
const purchase: Purchase = {
  token: TOKEN,
  hash: "a".repeat(40),
  ext: "txt",
  referrer: [],
  life: 60_000,
  expirationDate: 0,
};

function setup() {
  let now = 1_000_000;
  const p = { ...purchase, expirationDate: now + 60_000 };
  const changes: ((token: string) => void)[] = [];
  const resyncs: (() => void)[] = [];
  const store = {
    ready: true,
    reads: 0,
    answer: (): Promise<Purchase | undefined> => Promise.resolve(p),
    read(): Promise<Purchase | undefined> {
      this.reads++;
      return this.answer();
    },
    onChange: (fn: (token: string) => void) => changes.push(fn),
    onResync: (fn: () => void) => resyncs.push(fn),
  };
  const purchases = new Purchases(
    store as unknown as PurchaseStore,
    { afterlife: 1000, cacheLife: 500, staleAfterMs: 30 },
    () => now,
  );
  return {
    store,
    purchases,
    p,
    notice: (token: string) => {
      for (const fn of changes) fn(token);
    },
    resync: () => {
      for (const h of resyncs) h();
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const outage = () => Promise.reject(new BackendUnavailable("Redis unavailable (purchase get)"));

test("a fresh copy answers without Redis; a stale one is read again", async (t) => {
  const s = setup();
  t.deepEqual(await s.purchases.get(TOKEN), s.p);
  t.deepEqual(await s.purchases.get(TOKEN), s.p);
  t.is(s.store.reads, 1);
  s.advance(600);
  await s.purchases.get(TOKEN);
  t.is(s.store.reads, 2);
});

test("while Redis fails, stalls or reconnects, a known purchase answers from its copy; an unknown one is a 503", async (t) => {
  const s = setup();
  await s.purchases.get(TOKEN);
  s.advance(600);
  s.store.answer = outage;
  t.deepEqual(await s.purchases.get(TOKEN), s.p, "Redis failing");
  s.store.answer = () => new Promise(() => undefined);
  t.deepEqual(await s.purchases.get(TOKEN), s.p, "Redis silent");
  s.store.ready = false;
  const reads = s.store.reads;
  t.deepEqual(await s.purchases.get(TOKEN), s.p, "Redis reconnecting");
  t.is(s.store.reads, reads, "no read is queued behind a connection that is down");
  s.store.ready = true;
  s.store.answer = outage;
  await t.throwsAsync(s.purchases.get("U".repeat(64)), { instanceOf: BackendUnavailable });
});

test("a copy lasts until the purchase expires; Redis's answer that it is gone drops it", async (t) => {
  const s = setup();
  await s.purchases.get(TOKEN);
  s.advance(59_000);
  s.store.answer = outage;
  t.truthy(await s.purchases.get(TOKEN), "still there a second before expiry");
  s.store.answer = () => Promise.resolve(undefined);
  t.is(await s.purchases.get(TOKEN), undefined);
  s.store.answer = outage;
  await t.throwsAsync(s.purchases.get(TOKEN), { instanceOf: BackendUnavailable }, "no copy left to answer from");
});

test("a change notice drops the copy, and a read already on its way is not kept", async (t) => {
  const s = setup();
  let release: (v: Purchase) => void = () => undefined;
  s.store.answer = () => new Promise((r) => (release = r));
  const pending = s.purchases.get(TOKEN);
  s.notice(TOKEN); // the purchase was removed while the read (which saw it) was on its way
  release(s.p);
  t.truthy(await pending);
  s.store.answer = () => Promise.resolve(undefined);
  t.is(await s.purchases.get(TOKEN), undefined, "read again, not answered from the earlier read");
});

test("after a gap in the subscription every copy is read again, and still answers if Redis does not", async (t) => {
  const s = setup();
  await s.purchases.get(TOKEN);
  s.advance(10);
  s.resync();
  await s.purchases.get(TOKEN);
  t.is(s.store.reads, 2);
  s.advance(10);
  s.resync();
  s.store.answer = outage;
  t.deepEqual(await s.purchases.get(TOKEN), s.p);
});

import test from "ava";
import {
  fromRedisHash,
  isExpired,
  parseReferrer,
  parseTimestamp,
  type Purchase,
  purchaseKey,
  purchaseKeyPattern,
  toRedisHash,
  ttlMs,
} from "../../app/core/purchase.js";

const purchase: Purchase = {
  token: "a".repeat(64),
  hash: "a03f181dc7dedcfb577511149b8844711efdb04f",
  ext: "mp4",
  referrer: ["example.com", "cdn.example.org"],
  life: 7_200_000,
  expirationDate: 1_700_000_000_000,
};

test("key layout is OOSE 2.2-final's", (t) => {
  t.is(purchaseKey("oose", "tok"), "oose:purchase:tok");
  t.is(purchaseKeyPattern("oose"), "oose:purchase:*");
});

test("hash fields are 2.2-final's strings, referrer comma-joined", (t) => {
  t.deepEqual(toRedisHash(purchase), {
    hash: purchase.hash,
    ext: "mp4",
    referrer: "example.com,cdn.example.org",
    life: "7200000",
    expirationDate: "1700000000000",
    token: purchase.token,
  });
  t.is(toRedisHash({ ...purchase, referrer: [] }).referrer, "");
});

test("round trip, and a legacy 2.2 record reads back", (t) => {
  t.deepEqual(fromRedisHash(toRedisHash(purchase)), purchase);
  const legacy = {
    hash: purchase.hash,
    life: "7200000",
    expirationDate: "1700000000000",
    token: purchase.token,
    ext: "mp4",
    referrer: "",
    expired: "true",
    afterlifeExpirationDate: "1700007200000",
  };
  t.deepEqual(fromRedisHash(legacy), { ...purchase, referrer: [] });
});

test("missing or malformed records read as undefined", (t) => {
  t.is(fromRedisHash({}), undefined, "HGETALL of a missing key");
  t.is(fromRedisHash(null), undefined);
  t.is(fromRedisHash({ hash: purchase.hash, token: "t" }), undefined, "no expirationDate");
  t.is(fromRedisHash({ hash: purchase.hash, token: "t", expirationDate: "soon" }), undefined);
  t.is(fromRedisHash({ expirationDate: "1", token: "t" }), undefined, "no hash");
  t.is(fromRedisHash({ hash: "h", expirationDate: "1" }), undefined, "no token anywhere");
  t.like(fromRedisHash({ hash: "h", expirationDate: "1" }, "fromkey"), { token: "fromkey", life: 0, ext: "" });
  t.like(fromRedisHash({ hash: "h", expirationDate: "1", token: "t", ext: ".mp4" }), { ext: "mp4" });
});

test("TTL runs until expirationDate + afterlife", (t) => {
  t.is(ttlMs(10_000, 7_200_000, 5_000), 7_205_000);
  t.is(ttlMs(10_000, 7_200_000, 7_210_000), 0);
  t.true(ttlMs(10_000, 1000, 20_000) < 0);
  t.is(ttlMs(10_000.9, 0, 0), 10_000);
  t.true(isExpired({ expirationDate: 10 }, 10));
  t.false(isExpired({ expirationDate: 11 }, 10));
});

test("timestamps and referrers as OOSE stored them", (t) => {
  t.is(parseTimestamp(1_700_000_000_000), 1_700_000_000_000);
  t.is(parseTimestamp("1700000000000"), 1_700_000_000_000);
  t.is(parseTimestamp("2016-04-17T00:00:00.000Z"), Date.parse("2016-04-17T00:00:00.000Z"));
  t.is(parseTimestamp(""), undefined);
  t.is(parseTimestamp(Number.NaN), undefined);
  t.is(parseTimestamp({}), undefined);
  t.deepEqual(parseReferrer(["a.com", " b.com ", "", 3]), ["a.com", "b.com"]);
  t.deepEqual(parseReferrer("a.com,b.com"), ["a.com", "b.com"]);
  t.deepEqual(parseReferrer(""), []);
  t.deepEqual(parseReferrer(undefined), []);
});

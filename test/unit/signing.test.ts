import test from "ava";
import { DELIVERY_PREFIX, deliverySigner, deliveryUri, encodeAttachName } from "../../app/core/signing.js";

const KEY = "test-signing-key-0123456789";
const REL = "a0/3f/18/1d/c7/de/dc/fb/57/75/11/14/9b/88/44/71/1e/fd/b0/4f.txt";

/** The signature query alone (`md5=…&expires=…`) of a link to `uri`. */
const signatureOf = (key: string, uri: string, expiresAtSec: number) =>
  new URL(deliverySigner(key)("http://store.test", uri, expiresAtSec)).search.slice(1);

test('signature matches nginx secure_link_md5 "$secure_link_expires$uri <key>"', (t) => {
  // echo -n "1700000000/c/<rel> <key>" | openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =
  t.is(signatureOf(KEY, `/c/${REL}`, 1_700_000_000), "md5=n85NO2C74GGeGhZvT-FqVQ&expires=1700000000");
});

test("deliveryUri puts layout paths under the signed prefix and refuses anything else", (t) => {
  t.is(DELIVERY_PREFIX, "/c/");
  t.is(deliveryUri(REL), `/c/${REL}`);
  for (const bad of ["../etc/passwd", `/${REL}`, "a0/3f.txt", `${REL}/x`, "zz/zz.txt", ""]) {
    t.throws(() => deliveryUri(bad), { code: "INVALID_FILE_NAME" }, bad);
  }
});

test("signDeliveryPath refuses keys nginx cannot hold, odd paths and bad expiry", (t) => {
  t.throws(() => signatureOf('bad"key-0123456789', "/c/x", 1));
  t.throws(() => signatureOf("short", "/c/x", 1));
  t.throws(() => signatureOf(KEY, "c/x", 1));
  t.throws(() => signatureOf(KEY, "/c/x?y", 1));
  t.throws(() => signatureOf(KEY, "/c/x", 1.5));
  t.throws(() => signatureOf(KEY, "/c/x", 0));
});

test("deliverySigner builds the URL the prism redirects to", (t) => {
  const url = deliverySigner(KEY)("http://store1.example.com/", deliveryUri(REL), 1_700_000_000, {
    attach: "my file (1).txt",
    start: 5,
    rate: 2048.7,
  });
  t.is(
    url,
    `http://store1.example.com/c/${REL}?md5=n85NO2C74GGeGhZvT-FqVQ&expires=1700000000` +
      "&attach=my%20file%20%281%29.txt&start=5&rate=2048",
  );
});

test("attach names are encoded to the unreserved set", (t) => {
  t.is(encodeAttachName("a-b_c.d~e"), "a-b_c.d~e");
  t.is(encodeAttachName("it's!*.txt"), "it%27s%21%2A.txt");
  t.is(encodeAttachName("ü.txt"), "%C3%BC.txt");
});

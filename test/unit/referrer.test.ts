import test from "ava";
import { normalizeRule, referrerAllowed } from "../../app/core/referrer.js";

test("exact host rules match the Referer's host only", (t) => {
  t.true(referrerAllowed(["localhost"], "http://localhost/page"));
  t.true(referrerAllowed(["localhost"], "localhost"), "OOSE clients sent bare hosts");
  t.false(referrerAllowed(["localhost"], "http://evil.example/?localhost"));
  t.false(referrerAllowed(["example.com"], "http://example.com.evil.net/"));
  t.false(referrerAllowed(["example.com"], "http://notexample.com/"));
});

test("wildcards match subdomains, not the bare domain or lookalikes", (t) => {
  t.true(referrerAllowed(["*.example.com"], "https://a.example.com/x"));
  t.true(referrerAllowed(["*.example.com"], "https://a.b.example.com/x"));
  t.false(referrerAllowed(["*.example.com"], "https://example.com/"));
  t.false(referrerAllowed(["*.example.com"], "https://badexample.com/"));
});

test("an empty list accepts anything; a missing Referer fails any rule", (t) => {
  t.true(referrerAllowed([], undefined));
  t.false(referrerAllowed(["localhost"], undefined));
  t.false(referrerAllowed(["localhost"], ""));
});

test("rules given as URLs keep their host", (t) => {
  t.is(normalizeRule("https://Example.com/path"), "example.com");
  t.is(normalizeRule("*.Example.com"), "*.example.com");
  t.true(referrerAllowed(["http://example.com/"], "http://example.com/a"));
});

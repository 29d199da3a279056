import test from "ava";
import { HashingStream, identify, isValidHash, normalizeHash } from "../../app/core/hash.js";
import { fromRelativePath, locate, parseFileName, relativePath } from "../../app/core/layout.js";

const FIXTURE = "a03f181dc7dedcfb577511149b8844711efdb04f";
const FIXTURE_PATH = "a0/3f/18/1d/c7/de/dc/fb/57/75/11/14/9b/88/44/71/1e/fd/b0/4f.txt";

test("identify hash types by length", (t) => {
  t.is(identify("a".repeat(32)), "md5");
  t.is(identify(FIXTURE), "sha1");
  t.is(identify("a".repeat(56)), "sha224");
  t.is(identify("a".repeat(64)), "sha256");
  t.is(identify("a".repeat(96)), "sha384");
  t.is(identify("a".repeat(128)), "sha512");
  t.is(identify("a".repeat(41)), undefined);
  t.is(identify(""), undefined);
});

test("validate hashes", (t) => {
  t.true(isValidHash(FIXTURE));
  t.false(isValidHash("brown"));
  t.false(isValidHash(`${FIXTURE.slice(0, 39)}g`));
  t.false(isValidHash(""));
  t.false(isValidHash(42));
  t.is(normalizeHash(FIXTURE.toUpperCase()), FIXTURE);
  t.throws(() => normalizeHash("../etc/passwd"), { message: /Invalid hash/ });
});

test("layout matches OOSE's fixture", (t) => {
  t.is(relativePath(FIXTURE, "txt"), FIXTURE_PATH);
  t.deepEqual(fromRelativePath(FIXTURE_PATH), { hash: FIXTURE, ext: "txt" });
  t.is(locate("/data/content", FIXTURE, "txt").file, `/data/content/${FIXTURE_PATH}`);
  t.is(locate("/data/content", FIXTURE).base, "4f");
  t.is(fromRelativePath("a0/3f.txt"), undefined, "a 4-character hash is no hash type");
});

test("path guard rejects traversal and malformed names", (t) => {
  for (const bad of [
    "../x.txt",
    `${FIXTURE}`,
    `${FIXTURE}.`,
    `${FIXTURE}.t/x`,
    `${FIXTURE}.tx.t`,
    `${FIXTURE}.t\0`,
    `/${FIXTURE}.txt`,
    `${FIXTURE.slice(1)}.txt`,
    `${FIXTURE.slice(0, 39)}z.txt`,
    `${FIXTURE}..`,
    "",
  ]) {
    t.throws(() => parseFileName(bad), undefined, JSON.stringify(bad));
  }
  t.throws(() => locate("/data", "..", "txt"));
  t.throws(() => locate("/data", FIXTURE, "../x"));
  t.deepEqual(parseFileName(`${FIXTURE}.TXT`), { hash: FIXTURE, ext: "txt", type: "sha1" });
});

test("hashing stream digests what passes", async (t) => {
  const h = new HashingStream("sha1");
  h.end(Buffer.from("The fox is brown"));
  for await (const _ of h) {
    // drain
  }
  t.is(h.digest(), FIXTURE);
  t.is(h.bytes, 16);
});

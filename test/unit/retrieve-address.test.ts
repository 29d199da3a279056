import test from "ava";
import { Forbidden } from "../../app/errors.js";
import { Retriever } from "../../app/prism/retrieve.js";

// /content/retrieve refuses internal addresses in every spelling, IPv4 inside IPv6 included.

const retriever = new Retriever({ allowPrivate: false, maxBytes: 1024, timeoutMs: 1000, idleMs: 1000 });
test.after.always(() => retriever.close());

for (const url of [
  "http://127.0.0.1/",
  "http://[::1]/",
  "http://[::7f00:1]/",
  "http://[::127.0.0.1]/",
  "http://[::ffff:127.0.0.1]/",
  "http://[::ffff:7f00:1]/",
  "http://[::a00:1]/",
  "http://[::ffff:10.0.0.1]/",
  "http://[::]/",
  "http://[64:ff9b::7f00:1]/",
  "http://[2002:7f00:1::]/",
]) {
  test(`refused: ${url}`, async (t) => {
    await t.throwsAsync(retriever.fetch(url), { instanceOf: Forbidden });
  });
}

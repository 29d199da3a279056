import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import test from "ava";
import { type AccessLine, logFilesOf, parseAccessLine, referrerHost, UsageTally } from "../../app/core/usage.js";
import { ooseWith } from "../helpers/ops.js";

// `oose usage` over a generated log: two days (the first rotated and gzipped),
// three tokens (one line without), two hashes, referrer hosts, a malformed
// line, and lines either side of a time range.

const T1 = "A".repeat(64);
const T2 = `${"b".repeat(63)}2`;
const H1 = "a".repeat(40);
const H2 = "0123456789abcdef0123456789abcdef";

const line = (o: Partial<AccessLine>): string =>
  JSON.stringify({
    time: "2026-12-01T10:00:00+00:00",
    store: "store1",
    client: "192.0.2.7",
    method: "GET",
    path: "/c/aa/aa.txt",
    token: "",
    hash: "",
    status: 200,
    bytes: 0,
    referer: "",
    user_agent: "curl/8",
    request_time: 0.004,
    ...o,
  });

// Day 1 (gzipped): T1 ×2 on H1, one before the range. Day 2: T2 on H2 twice, T1 on H2, a /static line.
const DAY1 = [
  line({ time: "2026-11-30T23:59:59+00:00", token: T1, hash: H1, bytes: 1000, referer: "https://Site.example/a" }),
  line({ time: "2026-11-30T12:00:00+00:00", token: T1, hash: H1, bytes: 7, referer: "https://site.example/b" }),
];
const DAY2 = [
  line({ time: "2026-12-01T01:00:00+01:00", token: T2, hash: H2, bytes: 300, referer: "http://other.example:8080/" }),
  line({ time: "2026-12-01T08:30:00+00:00", token: T2, hash: H2, bytes: 200, status: 206 }),
  "{not json",
  line({ time: "2026-12-01T09:00:00Z", token: T1, hash: H2, bytes: 50, referer: "not a url", status: 403 }),
  JSON.stringify({ time: "2026-12-01T09:00:00Z", status: "200" }),
  line({ time: "2026-12-01T09:30:00+00:00", hash: H1, bytes: 20, path: `/static/x.txt` }),
  line({ time: "2026-12-02T00:00:00+00:00", token: T2, hash: H2, bytes: 99_999 }),
];
const FROM = "2026-11-30T13:00:00Z";
const TO = "2026-12-02T00:00:00Z";

function logDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "oose-usage-"));
  writeFileSync(path.join(dir, "access-2026-11-30.log.gz"), gzipSync(`${DAY1.join("\n")}\n`));
  // The day being written: its last line not yet ended.
  writeFileSync(path.join(dir, "access-2026-12-01.log"), DAY2.join("\n"));
  writeFileSync(path.join(dir, "notes.txt"), "not a log\n");
  return dir;
}

function tally(by: "token" | "hash" | "referrer", from?: string, to?: string) {
  const u = new UsageTally({ by, from: from ? Date.parse(from) : undefined, to: to ? Date.parse(to) : undefined });
  for (const l of [...DAY1, ...DAY2]) u.add(l);
  return u.report();
}

test("a line parses with its time; anything else is malformed", (t) => {
  const ok = parseAccessLine(DAY2[0]!);
  t.is(ok?.at, Date.parse("2026-12-01T00:00:00Z"));
  t.is(ok?.line.bytes, 300);
  t.is(parseAccessLine("{not json"), undefined);
  t.is(parseAccessLine(JSON.stringify({ time: "x" })), undefined);
  t.is(parseAccessLine(line({ time: "yesterday" })), undefined);
  t.is(parseAccessLine(line({ bytes: -1 })), undefined);
});

test("referrer hosts are lower-cased hosts without port; no or bad Referer is none", (t) => {
  t.is(referrerHost("https://Site.Example/a?b"), "site.example");
  t.is(referrerHost("http://other.example:8080/"), "other.example");
  t.is(referrerHost(""), undefined);
  t.is(referrerHost("not a url"), undefined);
});

test("sums per token over a time range: outside lines and malformed ones are counted apart", (t) => {
  const r = tally("token", FROM, TO);
  t.deepEqual(r.rows, [
    { key: T1, requests: 2, bytes: 1050 },
    { key: T2, requests: 2, bytes: 500 },
    { key: null, requests: 1, bytes: 20 },
  ]);
  t.deepEqual(r.total, { requests: 5, bytes: 1570 });
  t.is(r.lines, 9);
  t.is(r.malformed, 2);
  t.is(r.outside, 2, "one before from, one at to (exclusive)");
  t.is(r.from, "2026-11-30T13:00:00.000Z");
});

test("sums per hash and per referrer host, with no range", (t) => {
  const byHash = tally("hash");
  t.deepEqual(byHash.rows, [
    { key: H2, requests: 4, bytes: 100_549 },
    { key: H1, requests: 3, bytes: 1027 },
  ]);
  t.is(byHash.outside, 0);
  const byRef = tally("referrer");
  t.deepEqual(byRef.rows, [
    { key: null, requests: 4, bytes: 100_269 },
    { key: "site.example", requests: 2, bytes: 1007 },
    { key: "other.example", requests: 1, bytes: 300 },
  ]);
  t.deepEqual(byRef.total, byHash.total);
});

test("a folder gives its day files oldest first, a day's .gz only once its plain file is gone", (t) => {
  t.deepEqual(
    logFilesOf(["access-2026-12-01.log", "x.log", "access-2026-11-30.log.gz", ".access-2026-11-29.log.gz.tmp"]),
    ["access-2026-11-30.log.gz", "access-2026-12-01.log"],
  );
  t.deepEqual(logFilesOf(["access-2026-11-30.log.gz", "access-2026-11-30.log"]), ["access-2026-11-30.log"]);
});

const oose = (args: string[]) => ooseWith(args);

test("`oose usage --json` reads a folder, gzipped day included, and sums per token", async (t) => {
  const dir = logDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = await oose(["usage", dir, "--by", "token", "--from", FROM, "--to", TO, "--json"]);
  t.is(run.code, 0, run.stderr);
  const r = JSON.parse(run.stdout);
  t.is(r.files, 2);
  t.deepEqual(r.unreadable, []);
  t.deepEqual(r.rows, tally("token", FROM, TO).rows);
  t.deepEqual(r.total, { requests: 5, bytes: 1570 });
  t.is(r.malformed, 2);
});

test("`oose usage` prints a table per hash from named files; bad flags exit 2", async (t) => {
  const dir = logDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = ["access-2026-12-01.log", "access-2026-11-30.log.gz"].map((f) => path.join(dir, f));
  const run = await oose(["usage", ...files, "--by", "hash"]);
  t.is(run.code, 0, run.stderr);
  const rows = run.stdout.split("\n");
  t.regex(rows[0]!, /^HASH\s+REQUESTS\s+BYTES/);
  t.regex(rows[1]!, new RegExp(`^${H2}\\s+4\\s+100549\\s+98\\.2 KiB$`));
  t.regex(rows[2]!, new RegExp(`^${H1}\\s+3\\s+1027\\s+1\\.0 KiB$`));
  t.regex(rows[3]!, /^TOTAL\s+7\s+101576\s/);
  t.regex(run.stdout, /9 lines in 2 files.* 2 malformed \(skipped\)/);

  const bad = await oose(["usage", dir, "--by", "user"]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--by: one of token, hash, referrer/);
});

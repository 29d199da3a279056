import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import test from "ava";
import { DB_KINDS, LATER_DB_KINDS } from "../../app/adapters/couch/index.js";
import {
  ArchiveError,
  type BackupRecord,
  FORMAT,
  type Header,
  readArchive,
  VERSION,
  writeArchive,
} from "../../app/cli/backup-archive.js";
import { DB_ORDER, USERS } from "../../app/cli/backup-scope.js";
import { knownIds } from "../../app/cli/restore-prune.js";

// The backup archive: what is written reads back the same, a crashed write
// leaves no archive, and every kind of damage is an ArchiveError.

const dir = mkdtempSync(path.join(os.tmpdir(), "oose-archive-"));
const header: Header = {
  format: FORMAT,
  version: VERSION,
  createdAt: "2026-12-01T00:00:00Z",
  database: "oose",
  prefix: "oose",
};
const records: BackupRecord[] = [
  {
    redis: "purchase",
    key: "purchase:abc",
    expiresAt: 1_900_000_000_000,
    type: "hash",
    value: { hash: "a", ext: "mp4" },
  },
  { redis: "session", key: "session:s1", expiresAt: null, type: "string", value: '{"ü":"ß"}' },
  { redis: "user-sessions", key: "user-sessions:alice", expiresAt: 5, type: "set", value: ["s1", "s2"] },
  { db: "inventory", doc: { _id: "h:prism1:store1", hash: "h", size: 3 } },
];

async function written(name: string, rs = records): Promise<string> {
  const file = path.join(dir, name);
  const w = writeArchive(file, header);
  for (const r of rs) await w.write(r);
  await w.finish({ all: rs.length });
  return file;
}

test("an archive reads back record for record, and is written with mode 0600", async (t) => {
  const file = await written("good.gz");
  t.is(statSync(file).mode & 0o777, 0o600);
  const seen: BackupRecord[] = [];
  const { header: h, end } = await readArchive(file, (r) => {
    seen.push(r);
  });
  t.like(h, header);
  t.deepEqual(seen, records);
  t.like(end, { records: records.length, counts: { all: records.length } });
});

test("a write that is aborted leaves no archive", async (t) => {
  const file = path.join(dir, "aborted.gz");
  const w = writeArchive(file, header);
  await w.write(records[0]!);
  await w.abort();
  t.throws(() => statSync(file));
  t.throws(() => statSync(`${file}.partial`));
});

test("damaged, truncated, foreign and newer archives are refused", async (t) => {
  const many = Array.from({ length: 2000 }, (_, i) => ({
    db: "inventory",
    doc: { _id: `h${i}`, pad: "x".repeat(50) },
  }));
  const good = readFileSync(await written("many.gz", many));
  const cases: [string, Buffer, RegExp][] = [
    ["cut", good.subarray(0, good.length - 20), /gzip|truncated/],
    ["flip", Buffer.from(good).fill(0x55, 200, 210), /gzip|JSON|record/],
    ["foreign", gzipSync("hello\n"), /not JSON/],
    ["other-json", gzipSync('{"a":1}\n'), /not an OOSE backup/],
    ["newer", gzipSync(`${JSON.stringify({ ...header, version: 99 })}\n`), /version 99/],
    ["no-end", gzipSync(`${JSON.stringify(header)}\n${JSON.stringify(records[3])}\n`), /truncated: no end record/],
    ["plain", Buffer.from(`${JSON.stringify(header)}\n`), /gzip/],
    ["empty", gzipSync(""), /empty/],
  ];
  for (const [name, data, message] of cases) {
    const file = path.join(dir, `${name}.gz`);
    writeFileSync(file, data);
    await t.throwsAsync(readArchive(file), { instanceOf: ArchiveError, message }, name);
  }
  await t.throwsAsync(readArchive(path.join(dir, "missing.gz")), { instanceOf: ArchiveError });
});

test("a backup covers every OOSE database and the users", (t) => {
  t.deepEqual([...DB_ORDER].sort(), [...DB_KINDS, ...LATER_DB_KINDS, USERS].sort());
});

test("prune's digests know every id added, by part", (t) => {
  const known = knownIds();
  for (let i = 0; i < 5000; i++) known.add("inventory", `id-${i}`);
  known.add("purchase", "purchase:x");
  known.seal();
  t.true(known.has("inventory", "id-0") && known.has("inventory", "id-4999"));
  t.false(known.has("inventory", "id-5000"));
  t.false(known.has("owner", "id-1"), "another part's ids are not known");
  t.deepEqual(known.parts("doc"), ["inventory"]);
  t.deepEqual(known.parts("key"), ["purchase"]);
});

import test from "ava";
import type { Couch } from "../../app/adapters/couch/index.js";
import { copyIdPages, copyPages, keyPages } from "../../app/adapters/couch/paging.js";

// The inventory pagers against an in-memory CouchDB: docid paging where the
// server honours startkey_docid (CouchDB), _all_docs where it does not (the
// PouchDB stand-in). Every copy exactly once. Missing views are an error.

interface Doc {
  _id: string;
  _rev: string;
  hash: string;
  prism: string;
  store: string;
}

function fakeCouch(
  docs: Doc[],
  o: { docid: boolean; views: boolean; welcome?: Record<string, unknown> },
  calls: string[] = [],
): Couch {
  const sorted = [...docs].sort((a, b) => (a._id < b._id ? -1 : 1));
  const notFound = () => Object.assign(new Error("missing"), { statusCode: 404 });
  const db = {
    async view(ddoc: string, view: string, p: Record<string, unknown>) {
      calls.push(`view ${view}`);
      if (!o.views) throw notFound();
      let rows: { id: string; key: unknown; doc?: Doc }[];
      if (ddoc === "keyList") rows = sorted.map((d) => ({ id: d._id, key: d._id }));
      else {
        const field = view === "byStore" ? "store" : "prism";
        const key = (p.startkey as string[])[0];
        rows = sorted.filter((d) => d[field] === key).map((d) => ({ id: d._id, key: [d[field]] }));
        if (o.docid && p.startkey_docid !== undefined) rows = rows.filter((r) => r.id >= (p.startkey_docid as string));
      }
      if (ddoc === "keyList" && p.startkey !== undefined)
        rows = rows.filter((r) => (r.key as string) >= (p.startkey as string));
      rows = rows.slice((p.skip as number) ?? 0, ((p.skip as number) ?? 0) + (p.limit as number));
      if (p.include_docs) rows = rows.map((r) => ({ ...r, doc: sorted.find((d) => d._id === r.id) }));
      return { rows };
    },
    async list(p: Record<string, unknown>) {
      calls.push("list");
      const from = (p.startkey as string | undefined) ?? "";
      const rows = sorted
        .filter((d) => d._id >= from)
        .slice(0, p.limit as number)
        .map((d) => ({ id: d._id, doc: p.include_docs ? d : undefined }));
      return { rows };
    },
  };
  const server = o.welcome ? { request: async () => o.welcome } : {};
  return { db: () => db, name: (k: string) => `fake-${k}`, server, close: async () => {} } as unknown as Couch;
}

const docs: Doc[] = [];
for (let i = 0; i < 23; i++) {
  const hash = i.toString(16).padStart(40, "0");
  for (const [prism, store] of [
    ["p1", "s1"],
    ["p2", "s3"],
  ] as const)
    if (i % 3 !== 0 || store === "s1") docs.push({ _id: `${hash}:${prism}:${store}`, _rev: "1-a", hash, prism, store });
}
docs.push({ _id: "_design/inventory", _rev: "1-d", hash: "", prism: "", store: "" });
const ofStore = (s: string) =>
  docs
    .filter((d) => d.store === s)
    .map((d) => d._id)
    .sort();

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const p of pages) out.push(...p);
  return out;
}

for (const [label, o] of [
  ["CouchDB (startkey_docid)", { docid: true, views: true }],
  ["the stand-in (no startkey_docid)", { docid: false, views: true }],
  ["PouchDB Server, known by its welcome", { docid: false, views: true, welcome: { "express-pouchdb": "Welcome!" } }],
  ["CouchDB, known by its welcome", { docid: true, views: true, welcome: { couchdb: "Welcome" } }],
] as const) {
  test(`pagers on ${label}: every copy of the store once`, async (t) => {
    const calls: string[] = [];
    const notes: string[] = [];
    const couch = fakeCouch(docs, o, calls);
    const opts = { pageSize: 4, note: (m: string) => notes.push(m) };
    const full = await collect(copyPages(couch, "store", "s3", opts));
    t.deepEqual(full.map((d) => d._id).sort(), ofStore("s3"));
    t.is(new Set(full.map((d) => d._id)).size, full.length);
    const ids = await collect(copyIdPages(couch, "store", "s1", opts));
    t.deepEqual(ids.map((d) => d.id).sort(), ofStore("s1"));
    t.like(ids[0], { prism: "p1", store: "s1" });
    const byPrism = await collect(copyPages(couch, "prism", "p2", opts));
    t.deepEqual(byPrism.map((d) => d._id).sort(), ofStore("s3"));
    const all = await collect(keyPages(couch, opts));
    t.deepEqual(
      all.sort(),
      docs
        .filter((d) => !d._id.startsWith("_design/"))
        .map((d) => d._id)
        .sort(),
    );
    if (o.docid && o.views) {
      t.false(calls.includes("list"), "the views serve every page");
      t.deepEqual(notes, []);
    } else t.true(notes.length > 0, "the operator is told about the fallback");
    // Its views are never queried: the first query would build their whole index only to find them unusable.
    if ("welcome" in o && !o.docid) t.false(calls.includes("view byStore") || calls.includes("view byPrism"));
  });
}

test("pagers without the design docs say to run the migrations, and never read around them", async (t) => {
  const calls: string[] = [];
  const couch = fakeCouch(docs, { docid: true, views: false }, calls);
  const opts = { pageSize: 4 };
  for (const pages of [
    copyPages(couch, "store", "s3", opts),
    copyIdPages(couch, "store", "s1", opts),
    keyPages(couch, opts),
  ]) {
    const err = await t.throwsAsync(collect(pages as AsyncIterable<unknown[]>));
    t.like(err, { code: "INVENTORY_VIEWS_MISSING", status: 503 });
    t.regex(err!.message, /oose migrate up/);
  }
  t.false(calls.includes("list"));
});

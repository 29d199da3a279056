import { createHash, randomBytes } from "node:crypto";
import anyTest, { type TestFn } from "ava";
import { closeSharedAgent } from "../../app/client/http.js";
import { deliverySigner, deliveryUri } from "../../app/core/signing.js";
import type { Proc } from "../../infra/local/proc.js";
import {
  type Backends,
  type RunningStore,
  SIGNING_KEY,
  startBackends,
  startStore,
  startStoreNginx,
} from "../helpers/store-node.js";

// Bytes through the store's real nginx with the rendered config: signed links,
// Range, static vs deny list, attach, mp4 start=, the rate cap and per-IP limits.

interface Ctx {
  b: Backends;
  store: RunningStore;
  nginx: { url: string; proc: Proc };
  files: Record<string, { data: Buffer; rel: string }>;
}
const test = anyTest as TestFn<Ctx>;
const test_ = test.serial;

const RATE = { fastBytes: 64 * 1024, bytesPerSecond: 256 * 1024, requestsPerSecond: 100, burst: 40 };
const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

/** A small but well-formed MP4: one video track of 10 one-second samples, sample i filled with byte i. */
function tinyMp4(): Buffer {
  const u32 = (...v: number[]) => {
    const b = Buffer.alloc(4 * v.length);
    for (const [i, x] of v.entries()) b.writeUInt32BE(x, i * 4);
    return b;
  };
  const box = (type: string, ...parts: Buffer[]) => {
    const body = Buffer.concat(parts);
    return Buffer.concat([u32(8 + body.length), Buffer.from(type, "latin1"), body]);
  };
  const full = (type: string, flags: number, ...parts: Buffer[]) => box(type, u32(flags), ...parts);
  const matrix = u32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000);
  const [n, size, scale] = [10, 1000, 1000];
  const moov = (offset: number) =>
    box(
      "moov",
      full(
        "mvhd",
        0,
        u32(0, 0, scale, n * scale, 0x10000),
        Buffer.from([1, 0]),
        Buffer.alloc(10),
        matrix,
        Buffer.alloc(24),
        u32(2),
      ),
      box(
        "trak",
        full("tkhd", 3, u32(0, 0, 1, 0, n * scale, 0, 0, 0, 0), matrix, u32(320 << 16, 240 << 16)),
        box(
          "mdia",
          full("mdhd", 0, u32(0, 0, scale, n * scale), Buffer.from([0x55, 0xc4, 0, 0])),
          full("hdlr", 0, u32(0), Buffer.from("vide"), Buffer.alloc(12), Buffer.from("VideoHandler\0")),
          box(
            "minf",
            full("vmhd", 1, Buffer.alloc(8)),
            box("dinf", full("dref", 0, u32(1), full("url ", 1))),
            box(
              "stbl",
              full("stsd", 0, u32(1), box("mp4v", Buffer.alloc(78))),
              full("stts", 0, u32(1, n, scale)),
              full("stsc", 0, u32(1, 1, 1, 1)),
              full("stsz", 0, u32(0, n), ...Array.from({ length: n }, () => u32(size))),
              full("stco", 0, u32(n), ...Array.from({ length: n }, (_, i) => u32(offset + i * size))),
            ),
          ),
        ),
      ),
    );
  const ftyp = box("ftyp", Buffer.from("isom"), u32(512), Buffer.from("isomiso2mp41"));
  const mdatStart = ftyp.length + moov(0).length + 8;
  const samples = Buffer.concat(Array.from({ length: n }, (_, i) => Buffer.alloc(size, i)));
  return Buffer.concat([ftyp, moov(mdatStart), box("mdat", samples)]);
}

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
};

let failed = false;
test.before(async (t) => {
  const b = await startBackends();
  const store = await startStore(b, { name: "store1" });
  const nginx = await startStoreNginx(b, store, { rate: RATE, denyStaticTypes: ["mp4", "mp3", "mkv"] });
  const files: Ctx["files"] = {};
  for (const [name, data] of Object.entries({
    txt: Buffer.from("hello from the store\n"),
    bin: randomBytes(300_000),
    mp4: tinyMp4(),
    big: randomBytes(576 * 1024),
  })) {
    const put = await store.client.put(`${sha1(data)}.${name === "big" ? "bin" : name}`, data);
    files[name] = { data, rel: put.relativePath };
  }
  t.context = { b, store, nginx, files };
});
test.afterEach.always((t) => {
  if (!t.passed) failed = true;
});
test.after.always(async (t) => {
  await closeSharedAgent();
  await t.context.nginx?.proc.stop("SIGQUIT");
  await t.context.store?.stop();
  await t.context.b?.stop(failed);
});

const signed = (t: { context: Ctx }, name: string, opts = {}) =>
  deliverySigner(SIGNING_KEY)(t.context.nginx.url, deliveryUri(t.context.files[name]!.rel), inAnHour(), opts);

/** The signature query alone (`md5=…&expires=…`) of a link to `uri`, signed with `key`. */
const signatureOf = (key: string, uri: string, expiresAtSec: number) =>
  new URL(deliverySigner(key)("http://store.test", uri, expiresAtSec)).search.slice(1);

test_("a signed link serves the exact bytes, with Range, type and X-Peer", async (t) => {
  const { files } = t.context;
  const whole = await get(signed(t, "bin"));
  t.is(whole.res.status, 200);
  t.deepEqual(whole.body, files.bin!.data);
  t.is(whole.res.headers.get("x-peer"), "store1");
  t.is(whole.res.headers.get("content-disposition"), "inline");
  const text = await get(signed(t, "txt"));
  t.is(text.res.headers.get("content-type"), "text/plain");
  const part = await get(signed(t, "bin"), { range: "bytes=1000-1999" });
  t.is(part.res.status, 206);
  t.is(part.res.headers.get("content-range"), "bytes 1000-1999/300000");
  t.deepEqual(part.body, files.bin!.data.subarray(1000, 2000));
});

test_("a bad signature is 403, an expired one 410, and both carry X-Peer", async (t) => {
  const { nginx, files } = t.context;
  const uri = deliveryUri(files.txt!.rel);
  const base = `${nginx.url}${uri}`;
  const expired = signatureOf(SIGNING_KEY, uri, Math.floor(Date.now() / 1000) - 10);
  const cases: [string, number][] = [
    [base, 403],
    [`${base}?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=${inAnHour()}`, 403],
    [`${base}?${signatureOf("another-signing-key-000000", uri, inAnHour())}`, 403],
    [`${base}?${signatureOf(SIGNING_KEY, deliveryUri(files.bin!.rel), inAnHour())}`, 403],
    [`${base}?${signatureOf(SIGNING_KEY, uri, inAnHour()).replace(/expires=\d+/, "expires=")}`, 403],
    [`${base}?${expired}`, 410],
  ];
  for (const [url, status] of cases) {
    const { res } = await get(url);
    t.is(res.status, status, url);
    t.is(res.headers.get("x-peer"), "store1", url);
  }
});

test_("/static serves allowed types; purchase-only media needs a signature", async (t) => {
  const { nginx, files } = t.context;
  const txt = await get(`${nginx.url}/static/${files.txt!.rel}`);
  t.is(txt.res.status, 200);
  t.deepEqual(txt.body, files.txt!.data);
  t.is((await get(`${nginx.url}/static/${files.mp4!.rel}`)).res.status, 403);
  t.is((await get(`${nginx.url}/static/${files.mp4!.rel.toUpperCase()}`)).res.status, 403);
  t.is((await get(`${nginx.url}/static/${files.mp4!.rel.replace(".mp4", ".m%704")}`)).res.status, 403);
  t.is((await get(`${nginx.url}/${files.mp4!.rel}`)).res.status, 404);
  t.is((await get(`${nginx.url}${deliveryUri(files.mp4!.rel)}`)).res.status, 403);
  t.is((await get(`${nginx.url}/static/${files.txt!.rel.split("/").slice(0, -1).join("/")}/`)).res.status, 403);
});

test_("?attach= downloads under the given name", async (t) => {
  const named = await get(signed(t, "txt", { attach: "notes.txt" }));
  t.is(named.res.headers.get("content-disposition"), 'attachment; filename="notes.txt"');
  const spaced = await get(signed(t, "txt", { attach: "my notes.txt" }));
  t.is(spaced.res.headers.get("content-disposition"), "attachment; filename*=UTF-8''my%20notes.txt");
  const hostile = await get(`${signed(t, "txt")}&attach=a(b)`);
  t.is(hostile.res.headers.get("content-disposition"), "attachment");
});

test_("mp4 start= seeks inside the signed location", async (t) => {
  const { files } = t.context;
  const whole = await get(signed(t, "mp4"));
  t.deepEqual(whole.body, files.mp4!.data);
  const seek = await get(signed(t, "mp4", { start: 5 }));
  t.is(seek.res.status, 200);
  t.true(seek.body.length < files.mp4!.data.length - 4000);
  // The remaining samples are 5..9, in order, at the end of the rewritten file.
  const tail = Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.alloc(1000, i + 5)));
  t.deepEqual(seek.body.subarray(-5000), tail);
  const unsigned = await get(`${t.context.nginx.url}${deliveryUri(files.mp4!.rel)}?start=5`);
  t.is(unsigned.res.status, 403);
});

test_("after the fast start, ?rate may lower the bandwidth but never raise it", async (t) => {
  const { files } = t.context;
  const timed = async (url: string) => {
    const started = performance.now();
    const { body } = await get(url);
    t.deepEqual(body, files.big!.data);
    return (performance.now() - started) / 1000;
  };
  // nginx lets one second's worth through at once, so 576 KiB = 64 KiB fast + 256 KiB + 256 KiB
  // at the 256 KiB/s cap takes ≈ 1 s, and ≈ 2.2 s at 160 KiB/s.
  t.true((await timed(signed(t, "big"))) > 0.8, "capped");
  t.true((await timed(signed(t, "big", { rate: 100_000_000 }))) > 0.8, "a higher rate is ignored");
  t.true((await timed(`${signed(t, "big")}&rate=0`)) > 0.8, "0 does not mean unlimited");
  t.true((await timed(signed(t, "big", { rate: 160 * 1024 }))) > 1.8, "a lower rate is honoured");
});

test_("stub_status answers on loopback; unknown paths are 404 with X-Peer", async (t) => {
  const { nginx } = t.context;
  const status = await get(`${nginx.url}/nginx_status`);
  t.is(status.res.status, 200);
  t.regex(status.body.toString(), /Active connections/);
  const missing = await get(`${nginx.url}/nope`);
  t.is(missing.res.status, 404);
  t.is(missing.res.headers.get("x-peer"), "store1");
});

test_("per-IP request limit answers 429 beyond the burst", async (t) => {
  // A file, not "/": `return` answers before limit_req runs.
  const url = `${t.context.nginx.url}/static/${t.context.files.txt!.rel}`;
  const statuses = await Promise.all(Array.from({ length: 150 }, async () => (await get(url)).res.status));
  t.true(statuses.includes(429));
  t.true(statuses.filter((s) => s === 200).length >= RATE.burst);
});

import test from "ava";
import {
  cleanExtension,
  inventoryFromLegacy,
  legacyUrl,
  peerFromLegacy,
  purchaseFromCouch,
  shortInventoryKey,
} from "../../migrations/lib/legacy.js";

// The pure legacy → 3.0 transforms, edge cases the fixtures don't cover.

const HASH = "a03f181dc7dedcfb577511149b8844711efdb04f";
const REL = "a0/3f/18/1d/c7/de/dc/fb/57/75/11/14/9b/88/44/71/1e/fd/b0/4f";
const NOW = "2026-01-01T00:00:00.000Z";

test("peer keys are the identity; bad docs are skipped", (t) => {
  const store = peerFromLegacy("store", "oose:store:prism1:om101", { host: "h1", port: "5972", group: "rs106a" }, NOW);
  t.like(store, {
    id: "store:prism1:om101",
    doc: { name: "om101", prism: "prism1", port: 5972, url: "https://h1:5972", location: { zone: "rs106a" } },
  });
  t.like(peerFromLegacy("prism", "oose:prism:p1", { host: "::1", port: 5971, available: "true" }, NOW), {
    doc: { url: "https://[::1]:5971", available: true, createdAt: NOW, location: { site: "local", zone: "p1" } },
  });
  t.deepEqual(peerFromLegacy("store", "oose:store:onlyname", { host: "h", port: 1 }, NOW), {
    skip: "unexpected store key",
  });
  t.deepEqual(peerFromLegacy("prism", "oose:prism:p1", { port: 1 }, NOW), { skip: "no host" });
  t.deepEqual(peerFromLegacy("prism", "oose:prism:p1", { host: "h", port: 70000 }, NOW), { skip: "no valid port" });
  t.is(legacyUrl("10.0.0.1", 443), "https://10.0.0.1:443");
});

test("inventory: extension without the dot, relativePath checked or recomputed", (t) => {
  const scanned = inventoryFromLegacy(`${HASH}:prism1:store1`, { hash: HASH, mimeExtension: ".TXT" }, NOW);
  t.like(scanned, { doc: { mimeExtension: "txt", mimeType: "text/plain", relativePath: `${REL}.txt`, size: 0 } });
  const wrongPath = inventoryFromLegacy(
    `${HASH}:prism1:store1`,
    { mimeExtension: "txt", relativePath: `00/11.txt`, size: 12, verifiedAt: 5 },
    NOW,
  );
  t.like(wrongPath, { doc: { relativePath: `${REL}.txt`, size: 12, verifiedAt: 5, hash: HASH } });
  const extFromPath = inventoryFromLegacy(`${HASH}:p:s`, { relativePath: `${REL}.mp4` }, NOW);
  t.like(extFromPath, { doc: { mimeExtension: "mp4", mimeType: "video/mp4" } });
  t.like(inventoryFromLegacy(`${HASH}:p:s`, { mimeExtension: "weird" }, NOW), {
    doc: { mimeType: "application/octet-stream" },
  });
  t.deepEqual(inventoryFromLegacy(`${HASH}:p:s`, {}, NOW), { skip: "invalid extension" });
  t.deepEqual(inventoryFromLegacy(`${HASH}:p`, { mimeExtension: "txt" }, NOW), { skip: "unexpected inventory key" });
  t.deepEqual(inventoryFromLegacy(`${HASH}:p:s`, { hash: "f".repeat(40), mimeExtension: "txt" }, NOW), {
    skip: "invalid hash",
  });
  t.is(shortInventoryKey(`oose:inventory:${HASH}:p:s`), `${HASH}:p:s`);
  t.is(cleanExtension("..mp4"), "mp4");
  t.is(cleanExtension("a/b"), undefined);
});

test("purchases: the slim record from any CouchDB layout", (t) => {
  const doc = {
    hash: HASH.toUpperCase(),
    life: 1000,
    expirationDate: "1700000000000",
    referrer: ["a.com"],
    ext: ".mp4",
  };
  t.deepEqual(purchaseFromCouch("oose:purchase:tok1", { ...doc, token: "tok1", sessionToken: "x", inventory: {} }), {
    token: "tok1",
    hash: HASH,
    ext: "mp4",
    referrer: ["a.com"],
    life: 1000,
    expirationDate: 1_700_000_000_000,
  });
  t.like(purchaseFromCouch("tok2", { ...doc, referrer: "a.com,b.com" }), {
    token: "tok2",
    referrer: ["a.com", "b.com"],
  });
  t.deepEqual(purchaseFromCouch("tok3", { ...doc, token: "other" }), { skip: "no valid token" });
  t.deepEqual(purchaseFromCouch("tok4", { ...doc, expirationDate: null }), { skip: "no expirationDate" });
  t.deepEqual(purchaseFromCouch("tok5", { ...doc, hash: "zz" }), { skip: "invalid hash" });
});

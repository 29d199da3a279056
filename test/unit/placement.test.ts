import test from "ava";
import { type Candidate, rankStores } from "../../app/core/placement.js";

const store = (name: string, prism: string, zone: string, extra: Partial<Candidate> = {}): Candidate => ({
  name,
  prism,
  zone,
  host: `h-${name}`,
  load: 0,
  ...extra,
});

const cluster = [
  store("store1", "prism1", "zone1"),
  store("store2", "prism1", "zone2"),
  store("store3", "prism2", "zone1"),
  store("store4", "prism2", "zone2"),
];

test("two replicas land on different prisms and zones", (t) => {
  for (let i = 0; i < 50; i++) {
    const [a, b] = rankStores(cluster, 2);
    t.not(a!.prism, b!.prism);
    t.not(a!.zone, b!.zone);
  }
});

test("equal stores share the first slot rather than the alphabetically first taking all", (t) => {
  const firsts = new Set<string>();
  for (let i = 0; i < 200; i++) firsts.add(rankStores(cluster, 2)[0]!.name);
  t.is(firsts.size, 4);
});

test("free space and load steer the choice within a domain", (t) => {
  const roomy = [store("a", "p1", "z1", { free: 10 }), store("b", "p1", "z1", { free: 1000 })];
  t.is(rankStores(roomy, 1)[0]!.name, "b");
  const busy = [store("a", "p1", "z1", { load: 5 }), store("b", "p1", "z1", { load: 0 })];
  t.is(rankStores(busy, 1)[0]!.name, "b");
});

test("existing holders count as chosen and are never ranked", (t) => {
  const holder = { name: "store1", prism: "prism1", zone: "zone1", host: "h-store1" };
  const ranked = rankStores(cluster, 1, [holder]);
  t.false(ranked.some((c) => c.name === "store1"));
  t.is(ranked[0]!.name, "store4", "the only store sharing neither prism nor zone with the holder");
});

test("fallbacks follow the placement and cover every other store", (t) => {
  const ranked = rankStores(cluster, 2);
  t.is(ranked.length, 4);
  t.is(new Set(ranked.map((c) => c.name)).size, 4);
});

test("no candidates gives an empty ranking", (t) => {
  t.deepEqual(rankStores([], 2), []);
});

test("disks that differ by a few bytes share the work", (t) => {
  const nearlyEqual = [
    store("a", "p1", "z1", { free: 1_000_000_000 }),
    store("b", "p1", "z1", { free: 1_000_000_123 }),
    store("c", "p1", "z1", { free: 999_999_000 }),
  ];
  const firsts = new Set<string>();
  for (let i = 0; i < 200; i++) firsts.add(rankStores(nearlyEqual, 1)[0]!.name);
  t.is(firsts.size, 3);
});

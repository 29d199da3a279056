import { docPages } from "../adapters/couch/paging.js";
import { parseCopyId } from "../core/inventory.js";
import { CouchPeers } from "../adapters/couch/peers.js";
import { CouchVotes } from "../adapters/couch/votes.js";
import { isCurrent, majority } from "../core/heartbeat.js";
import { isLive, type Peer } from "../core/peer.js";
import { type HealStatus, healKeys } from "../jobs/heal.js";
import { hotKeys, RedisHotCounts } from "../adapters/redis/hot-counts.js";
import { windowBuckets } from "../jobs/hot-counter.js";
import { type ScrubStatus, scrubKey } from "../jobs/scrub.js";
import { defineCommand, intOption } from "./common.js";
import { action, addOpsOptions, type Cluster, connect, EXIT, fmtBytes, type OpsFlags, setting } from "./ops.js";
import { reporter } from "./progress.js";

// `oose status`: the cluster at a glance. Peers and their availability, the
// heartbeat's current down-votes, each store's disk (what it reported) and
// inventory (copies and bytes recorded), how many hashes have fewer live copies
// than `replicas`, the heal and scrub jobs' progress, and the hot content. A
// table, or --json.

interface Flags extends OpsFlags {
  inventory: boolean;
  replicas?: number;
  pageSize: number;
  top: number;
}

export interface StoreStatus {
  name: string;
  prism: string;
  zone: string;
  host: string;
  live: boolean;
  available: boolean;
  active: boolean;
  writable: boolean;
  disk: { free: number; total: number; used: number; at: string } | null;
  /** Recorded in the inventory (undefined without the inventory pass). */
  copies?: number;
  bytes?: number;
}

export interface ClusterStatus {
  at: string;
  replicas: number;
  prisms: { name: string; zone: string; host: string; url: string; available: boolean; active: boolean }[];
  stores: StoreStatus[];
  votes: { castee: string; caster: string; castAt: string; reason: string }[];
  /** Peers with current votes against them, and the majority needed to mark them down. */
  downVotes: { peer: string; votes: number; needed: number }[];
  inventory?: {
    hashes: number;
    copies: number;
    /** 0 < live copies < replicas. */
    underReplicated: number;
    /** Known, but no copy on a live store. */
    unavailable: number;
    overReplicated: number;
    /** Copies recorded on stores that are not in the peer list. */
    unknownStores: number;
  };
  /** The heal job's current or last pass (from Redis). */
  heal?: HealStatus | null;
  /** Each store's scrub pass (from Redis); null for a store that has not scrubbed yet. */
  scrub?: { store: string; status: ScrubStatus | null }[];
  hot?: {
    window: number;
    threshold: number;
    top: { hash: string; deliveries: number }[];
    extra: { hash: string; stores: string[] }[];
  };
}

async function votes(c: Cluster, peers: Peer[], voteLife: number) {
  const now = Date.now();
  const current = (await new CouchVotes(c.couch).all()).filter((v) => isCurrent(v, now, voteLife));
  const active = peers.filter((p) => p.active);
  const byPeer = new Map<string, Set<string>>();
  for (const v of current) byPeer.set(v.castee, (byPeer.get(v.castee) ?? new Set()).add(v.caster));
  return {
    votes: current.map((v) => ({
      castee: v.castee,
      caster: v.caster,
      castAt: new Date(v.castAt).toISOString(),
      reason: v.reason,
    })),
    downVotes: [...byPeer].map(([peer, casters]) => ({
      peer,
      votes: casters.size,
      needed: majority(active.filter((p) => p.key !== peer).length),
    })),
  };
}

/** One pass over every copy id: ids of a hash are adjacent (they share the `<hash>:` prefix). */
async function inventory(
  c: Cluster,
  stores: StoreStatus[],
  replicas: number,
  pageSize: number,
  onPage: (n: number) => void,
) {
  const byName = new Map(stores.map((s) => [s.name, s]));
  for (const s of stores) {
    s.copies = 0;
    s.bytes = 0;
  }
  const out = { hashes: 0, copies: 0, underReplicated: 0, unavailable: 0, overReplicated: 0, unknownStores: 0 };
  let hash: string | undefined;
  let live = 0;
  const close = () => {
    if (hash === undefined) return;
    out.hashes++;
    if (live === 0) out.unavailable++;
    else if (live < replicas) out.underReplicated++;
    else if (live > replicas) out.overReplicated++;
  };
  for await (const page of docPages(c.couch, { pageSize, docs: true })) {
    for (const row of page) {
      const id = parseCopyId(row.id);
      if (!id) continue;
      if (id.hash !== hash) {
        close();
        hash = id.hash;
        live = 0;
      }
      out.copies++;
      const store = byName.get(id.store);
      if (!store) {
        out.unknownStores++;
        continue;
      }
      store.copies!++;
      store.bytes! += row.doc?.size ?? 0;
      if (store.live) live++;
    }
    onPage(out.copies);
  }
  close();
  return out;
}

async function jobs(c: Cluster, stores: StoreStatus[]): Promise<Pick<ClusterStatus, "heal" | "scrub">> {
  const redis = c.redis();
  if (!redis) return {};
  const parse = <T>(raw: string | null) => (raw ? (JSON.parse(raw) as T) : null);
  const [heal, ...scrub] = await redis.mget(
    healKeys(c.prefix).status,
    ...stores.map((s) => scrubKey(c.prefix, s.name)),
  );
  return {
    heal: parse<HealStatus>(heal ?? null),
    scrub: stores.map((s, i) => ({ store: s.name, status: parse<ScrubStatus>(scrub[i] ?? null) })),
  };
}

async function hot(c: Cluster, top: number) {
  const redis = c.redis();
  if (!redis) return undefined;
  const s = setting(c.raw, "hot");
  const keys = hotKeys(c.prefix);
  const rates = await new RedisHotCounts(redis, c.prefix).rates(windowBuckets(Date.now(), s.window), {
    min: 1,
    limit: top,
  });
  const active = await redis.zrange(keys.active, "0", "-1");
  const extra = await Promise.all(
    active.map(async (hash: string) => ({ hash, stores: await redis.smembers(keys.extra(hash)) })),
  );
  return {
    window: s.window,
    threshold: s.threshold,
    top: rates.map(([hash, deliveries]) => ({ hash, deliveries })),
    extra,
  };
}

export async function clusterStatus(c: Cluster, flags: Flags, onPage: (n: number) => void = () => undefined) {
  const peers = await new CouchPeers(c.couch).list();
  const heartbeat = setting(c.raw, "heartbeat");
  const replicas = flags.replicas ?? setting(c.raw, "replicas");
  const stores: StoreStatus[] = peers
    .filter((p) => p.type === "store")
    .map((p) => ({
      name: p.name,
      prism: p.prism ?? "",
      zone: p.location.zone,
      host: p.location.host,
      live: isLive(p),
      available: p.available,
      active: p.active,
      writable: p.writable,
      disk: p.capacity ? { ...p.capacity, used: p.capacity.total - p.capacity.free } : null,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const status: ClusterStatus = {
    at: new Date().toISOString(),
    replicas,
    prisms: peers
      .filter((p) => p.type === "prism")
      .map((p) => ({
        name: p.name,
        zone: p.location.zone,
        host: p.location.host,
        url: p.url,
        available: p.available,
        active: p.active,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    stores,
    ...(await votes(c, peers, heartbeat.voteLife)),
  };
  if (flags.inventory) status.inventory = await inventory(c, stores, replicas, flags.pageSize, onPage);
  Object.assign(status, await jobs(c, stores).catch(() => ({})));
  status.hot = await hot(c, flags.top).catch(() => undefined);
  return status;
}

const yes = (b: boolean) => (b ? "yes" : "NO");
const when = (iso?: string) => (iso ? iso.replace(/\.\d+Z$/, "Z") : "-");
const age = (ms: number) =>
  ms < 7_200_000
    ? `${Math.round(ms / 60_000)} min`
    : ms < 172_800_000
      ? `${Math.round(ms / 3_600_000)} h`
      : `${Math.round(ms / 86_400_000)} d`;

function printJobs(s: ClusterStatus): void {
  if (s.heal !== undefined) {
    const h = s.heal;
    console.log(
      `\nheal: ${h ? `${h.state === "done" ? `last pass finished ${when(h.finishedAt)}` : `pass running since ${when(h.startedAt)} (at ${h.cursor ?? "the start"})`}, runner ${h.runner}` : "no pass yet"}`,
    );
    if (h) {
      console.log(
        `  ${h.hashes} hashes looked at; ${h.short} under-replicated found, ${h.healed} healed, ${h.failed} failed`,
      );
      console.log(
        `  ${h.unreachable} with no live copy, ${h.deferred} too young (next pass); ${h.copied} copies, ${fmtBytes(h.bytes)} at ${fmtBytes(h.bytesPerSec)}/s`,
      );
      const t = h.total;
      console.log(
        `  since the first pass: ${t.short} under-replicated found, ${t.healed} healed, ${t.failed} failed, ${t.copied} copies (${fmtBytes(t.bytes)}); last healed ${when(h.lastHealedAt)}`,
      );
    }
  }
  if (s.scrub) {
    console.log(
      `\n${"SCRUB".padEnd(16)}${"STATE".padEnd(34)}${"CHECKED".padEnd(10)}${"CORRUPT".padEnd(9)}${"MISSING".padEnd(9)}${"RATE".padEnd(12)}OLDEST VERIFIED`,
    );
    const now = Date.parse(s.at);
    for (const { store, status: st } of s.scrub) {
      if (!st) {
        console.log(`${store.padEnd(16)}no pass yet`);
        continue;
      }
      // A pass still reading its pages has seen only part of the store: the last finished pass speaks for the rest.
      const pass = st.state === "done" || !st.last ? st : st.last;
      const state = st.state === "done" ? `done ${when(st.finishedAt)}` : `running, ${st.seen} seen`;
      const oldest =
        pass.oldestVerifiedAt === null
          ? "-"
          : `${when(new Date(pass.oldestVerifiedAt).toISOString())} (${age(now - pass.oldestVerifiedAt)} ago)`;
      console.log(
        store.padEnd(16) +
          state.padEnd(34) +
          String(st.checked).padEnd(10) +
          String(st.corrupt).padEnd(9) +
          String(st.missing).padEnd(9) +
          `${fmtBytes(st.bytesPerSec)}/s`.padEnd(12) +
          oldest +
          (pass.unverified ? `, ${pass.unverified} never` : ""),
      );
    }
    const all = s.scrub.flatMap((x) => (x.status ? [x.status.total] : []));
    const sum = (k: keyof ScrubStatus["total"]) => all.reduce((n, t) => n + t[k], 0);
    console.log(
      `  since the first pass: ${sum("checked")} copies checked (${fmtBytes(sum("bytes"))}), ${sum("corrupt")} corrupt, ${sum("missing")} missing`,
    );
  }
}

function print(s: ClusterStatus): void {
  console.log(`OOSE cluster status at ${s.at} (replicas ${s.replicas})\n`);
  console.log(`${"PRISM".padEnd(16)}${"ZONE".padEnd(10)}${"AVAILABLE".padEnd(11)}${"ACTIVE".padEnd(8)}URL`);
  for (const p of s.prisms)
    console.log(p.name.padEnd(16) + p.zone.padEnd(10) + yes(p.available).padEnd(11) + yes(p.active).padEnd(8) + p.url);
  console.log(
    `\n${"STORE".padEnd(16)}${"PRISM".padEnd(12)}${"ZONE".padEnd(10)}${"LIVE".padEnd(6)}${"WRITABLE".padEnd(10)}` +
      `${"DISK USED".padEnd(22)}${"COPIES".padEnd(10)}BYTES`,
  );
  for (const st of s.stores) {
    const disk = st.disk ? `${fmtBytes(st.disk.used)} / ${fmtBytes(st.disk.total)}` : "-";
    console.log(
      st.name.padEnd(16) +
        st.prism.padEnd(12) +
        st.zone.padEnd(10) +
        yes(st.live).padEnd(6) +
        yes(st.writable).padEnd(10) +
        disk.padEnd(22) +
        String(st.copies ?? "-").padEnd(10) +
        (st.bytes === undefined ? "-" : fmtBytes(st.bytes)),
    );
  }
  console.log(`\ndown-votes: ${s.votes.length === 0 ? "none" : ""}`);
  for (const d of s.downVotes) console.log(`  ${d.peer}: ${d.votes} of ${d.needed} needed`);
  if (s.inventory) {
    const i = s.inventory;
    console.log(`\ninventory: ${i.hashes} hashes, ${i.copies} copies`);
    console.log(`  under-replicated  ${i.underReplicated} (fewer than ${s.replicas} live copies)`);
    console.log(`  unavailable       ${i.unavailable} (no live copy)`);
    console.log(`  over-replicated   ${i.overReplicated}`);
    if (i.unknownStores) console.log(`  on unknown stores ${i.unknownStores} copies`);
  }
  printJobs(s);
  if (s.hot) {
    console.log(`\nhot content (deliveries in the last ${s.hot.window / 1000} s; hot from ${s.hot.threshold}):`);
    if (s.hot.top.length === 0) console.log("  none");
    for (const h of s.hot.top)
      console.log(`  ${h.hash} ${h.deliveries}${h.deliveries >= s.hot.threshold ? " HOT" : ""}`);
    for (const e of s.hot.extra) console.log(`  ${e.hash} extra copies on ${e.stores.join(", ") || "-"}`);
  }
}

async function status(flags: Flags): Promise<number> {
  const c = connect(flags, "status");
  try {
    const progress = reporter({ json: flags.json || !process.stderr.isTTY });
    progress.begin("inventory");
    const s = await clusterStatus(c, flags, (n) => progress.update(n, ""));
    progress.end("");
    if (flags.json) console.log(JSON.stringify(s));
    else print(s);
    const healthy = s.stores.every((st) => st.live) && (s.inventory?.unavailable ?? 0) === 0;
    return healthy ? EXIT.ok : EXIT.failed;
  } finally {
    await c.close();
  }
}

defineCommand((program) => {
  addOpsOptions(
    program.command("status").description("cluster overview: peers, votes, disks, replication, hot content"),
    {
      redis: true,
    },
  )
    .option("--no-inventory", "skip the pass over the inventory (copy counts, under-replication)")
    .option("--replicas <n>", "the base replica count (default: replicas)", intOption("--replicas", 1))
    .option("--page-size <n>", "inventory docs per CouchDB request", intOption("--page-size", 1), 5000)
    .option("--top <n>", "hot hashes listed", intOption("--top", 1), 10)
    .action(action(status));
});

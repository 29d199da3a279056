import { docPages } from "../adapters/couch/paging.js";
import { CouchPeers } from "../adapters/couch/peers.js";
import { CouchVotes } from "../adapters/couch/votes.js";
import { RedisHotCounts } from "../adapters/redis/hot-counts.js";
import { RedisJobState } from "../adapters/redis/job-state.js";
import type { ClusterStatus, ScrubStatus } from "../contracts/console.js";
import { clusterStatus as gather, inventoryPass, type StatusSources } from "../jobs/cluster-status.js";
import { defineCommand, intOption } from "./common.js";
import { action, addOpsOptions, type Cluster, connect, EXIT, fmtBytes, type OpsFlags, setting } from "./ops.js";
import { reporter } from "./progress.js";

// `oose status`: the cluster at a glance (app/jobs/cluster-status.ts, which
// the console's cluster view reads too), from CouchDB and Redis directly. A
// table, or --json.

interface Flags extends OpsFlags {
  inventory: boolean;
  replicas?: number;
  pageSize: number;
  top: number;
}

export async function clusterStatus(c: Cluster, flags: Flags, onPage: (n: number) => void = () => undefined) {
  const redis = c.redis();
  const replicas = flags.replicas ?? setting(c.raw, "replicas");
  const sources: StatusSources = {
    peers: () => new CouchPeers(c.couch).list(),
    votes: new CouchVotes(c.couch),
    ...(redis ? { state: new RedisJobState(redis), hot: new RedisHotCounts(redis, c.prefix) } : {}),
    prefix: c.prefix,
    replicas,
    voteLife: setting(c.raw, "heartbeat").voteLife,
    hotWindow: setting(c.raw, "hot"),
    top: flags.top,
  };
  const rows = async function* () {
    for await (const page of docPages(c.couch, { pageSize: flags.pageSize, docs: true }))
      yield page.map((r) => ({ id: r.id, size: r.doc?.size }));
  };
  const inventory = flags.inventory
    ? (peers: Parameters<typeof inventoryPass>[1]) => inventoryPass(rows(), peers, replicas, { sized: true, onPage })
    : undefined;
  return gather(sources, inventory);
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

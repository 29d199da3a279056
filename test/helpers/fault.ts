import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import nano from "nano";
import { request } from "undici";
import type { PrismClient } from "../../packages/client/src/index.js";
import type { InventoryDoc } from "../../app/core/inventory.js";
import { relativePath } from "../../app/core/layout.js";
import type { PeerDoc } from "../../app/core/peer.js";
import type { LocalCluster } from "../../infra/local/cluster.js";
import { storeRoot } from "./prism.js";

// Fault injection on a running test cluster, by pid only: a "store" is its
// node process and its nginx (master and workers), as on a real host.

/** Settings that make failure detection take about a second. */
export const FAST_HEARTBEAT: Record<string, string> = {
  OOSE_HEARTBEAT__START_DELAY: "300",
  OOSE_HEARTBEAT__FREQUENCY: "300",
  OOSE_HEARTBEAT__JITTER: "200",
  OOSE_HEARTBEAT__RETRIES: "1",
  OOSE_HEARTBEAT__PING_TIMEOUT: "400",
  OOSE_HEARTBEAT__PEER_REFRESH: "300",
  OOSE_HEARTBEAT__REPAIR_AFTER: "3000",
};

/** Direct children of `pid`, from /proc (nginx workers of a master). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * The pids that make up store `name`: its node (and any workers), its nginx master, then the master's workers. The master
 * comes first so it is signalled first: a master that sees a worker die forks a new one, which a KILL
 * aimed at the old workers would miss (it would keep the port and the test's pipes open).
 */
export function storePids(c: LocalCluster, name: string): number[] {
  const node = c.procs[name]!.pid;
  const master = c.procs[`nginx-${name}`]!.pid;
  // A node with workers > 1 is a supervisor with API processes below it, like nginx.
  return [node, ...childPids(node), master, ...childPids(master)];
}

/** Sends `signal` to every process of store `name`, by pid. */
export function signalStore(c: LocalCluster, name: string, signal: NodeJS.Signals): void {
  for (const pid of storePids(c, name)) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export async function killStore(c: LocalCluster, name: string): Promise<void> {
  const workers = childPids(c.procs[`nginx-${name}`]!.pid);
  signalStore(c, name, "SIGKILL");
  await Promise.all([c.procs[name]!.exited, c.procs[`nginx-${name}`]!.exited]);
  await until(`${name}'s nginx workers gone`, async () => workers.every((pid) => !existsSync(`/proc/${pid}`)), 5000);
}

export async function restartStore(c: LocalCluster, name: string): Promise<void> {
  await c.restart(name);
  await c.restart(`nginx-${name}`);
}

const exited = (c: LocalCluster, name: string) => {
  const child = c.procs[name]!.child;
  return child.exitCode !== null || child.signalCode !== null;
};

/** Brings a store back if a test left it dead or stopped (for t.teardown, so one failure does not spoil the next test). */
export async function ensureStoreUp(c: LocalCluster, name: string): Promise<void> {
  signalStore(c, name, "SIGCONT");
  if (exited(c, name) || exited(c, `nginx-${name}`)) {
    signalStore(c, name, "SIGKILL");
    await restartStore(c, name);
  }
}

/** Polls `check` every `everyMs` until true; fails after `timeoutMs`. Answers the ms it took. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 50) {
  const started = performance.now();
  let last: unknown;
  while (performance.now() - started < timeoutMs) {
    try {
      if (await check()) return performance.now() - started;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ""}`);
}

export const storeKey = (c: LocalCluster, name: string) =>
  `store:${c.info.stores.find((s) => s.name === name)!.prism}:${name}`;

export async function peerDoc(c: LocalCluster, name: string): Promise<PeerDoc> {
  return nano(c.info.couchdb).use<PeerDoc>("oose-peer").get(storeKey(c, name));
}

/** The heartbeat's votes against store `name` (`down:<castee>:<caster>`). */
export async function votesAgainst(
  c: LocalCluster,
  name: string,
): Promise<{ _id: string; caster: string; castee: string }[]> {
  const key = storeKey(c, name);
  const res = await nano(c.info.couchdb)
    .use<{ caster: string; castee: string }>("oose-heartbeat")
    .list({ startkey: `down:${key}:`, endkey: `down:${key}:\ufff0`, include_docs: true });
  return res.rows.map((r) => r.doc as { _id: string; caster: string; castee: string });
}

export const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");

export interface Stored {
  hash: string;
  data: Buffer;
  relativePath: string;
  token: string;
}

/**
 * Uploads `count` random files of `size` bytes and buys each; returns them with their purchase tokens.
 * On a busy machine the short test heartbeat can take a store out for a moment right after the start:
 * a batch refused for want of stores is tried again.
 */
export async function storeFiles(client: PrismClient, count: number, size: number): Promise<Stored[]> {
  const out: Stored[] = [];
  for (let i = 0; i < count; i += 8) {
    const batch = Array.from({ length: Math.min(8, count - i) }, () => randomBytes(size));
    const files = batch.map((data, k) => ({ field: `f${k}`, name: `f${k}.bin`, data }));
    let reply: Awaited<ReturnType<PrismClient["upload"]>> | undefined;
    await until(
      "stores to upload to",
      async () => {
        try {
          reply = await client.upload(files);
          return true;
        } catch (err) {
          if ((err as { code?: string }).code === "NO_PLACEMENT") return false;
          throw err;
        }
      },
      20_000,
      250,
    );
    for (const [k, data] of batch.entries()) {
      const hash = reply!.files[`f${k}`]!.hash;
      const { token } = await client.purchase({ hash, ext: "bin" });
      out.push({ hash, data, token, relativePath: relativePath(hash, "bin") });
    }
  }
  return out;
}

/** Stores whose disk holds a correct copy of `file`. */
export function holders(c: LocalCluster, file: Stored, among = c.info.stores.map((s) => s.name)): string[] {
  return among.filter((s) => {
    const p = path.join(storeRoot(c, s), "content", file.relativePath);
    return existsSync(p) && sha1(readFileSync(p)) === file.hash;
  });
}

/** Staged uploads (`*.part`) in a store's tmp dir. */
export function partials(c: LocalCluster, store: string): string[] {
  const dir = path.join(storeRoot(c, store), "tmp");
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".part")) : [];
}

export async function inventory(c: LocalCluster, hash: string): Promise<InventoryDoc[]> {
  const res = await nano(c.info.couchdb)
    .use<InventoryDoc>("oose-inventory")
    .list({ startkey: `${hash}:`, endkey: `${hash}:\ufff0`, include_docs: true });
  return res.rows.map((r) => r.doc as InventoryDoc);
}

export interface Delivery {
  /** Start and end, performance.now(). */
  at: number;
  end: number;
  ok: boolean;
  store?: string;
  error?: string;
}

/** The store a delivery URL points at, from its nginx port. */
export function storeOfUrl(c: LocalCluster, url: string): string | undefined {
  const origin = new URL(url).origin;
  return c.info.stores.find((s) => new URL(s.public).origin === origin)?.name;
}

/** One delivery as a user's browser does it: the prism's redirect, then the bytes from the store's nginx. */
export async function deliver(c: LocalCluster, prism: number, file: Stored, timeoutMs = 5000): Promise<Delivery> {
  const at = performance.now();
  const d = await attempt(c, prism, file, timeoutMs, at);
  return { ...d, end: performance.now() };
}

async function attempt(c: LocalCluster, prism: number, file: Stored, timeoutMs: number, at: number) {
  let store: string | undefined;
  try {
    const res = await request(`${c.info.prisms[prism]!.url}/${file.token}/f.bin`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.statusCode !== 302) {
      const code = ((await res.body.json().catch(() => ({}))) as { code?: string }).code;
      return { at, ok: false, error: `prism answered ${res.statusCode} ${code ?? ""}`.trimEnd() };
    }
    await res.body.dump();
    const location = String(res.headers.location);
    store = storeOfUrl(c, location);
    const bytes = await request(location, { signal: AbortSignal.timeout(timeoutMs) });
    const body = Buffer.from(await bytes.body.arrayBuffer());
    if (bytes.statusCode !== 200) return { at, ok: false, store, error: `nginx answered ${bytes.statusCode}` };
    if (!body.equals(file.data)) return { at, ok: false, store, error: "wrong bytes" };
    return { at, ok: true, store };
  } catch (err) {
    return { at, ok: false, store, error: (err as Error).message };
  }
}

/** Deliveries from `workers` concurrent users over random files and both prisms, until `stop()` resolves. */
export function deliveryLoad(c: LocalCluster, files: Stored[], workers: number, maxCount = 50_000) {
  const results: Delivery[] = [];
  let stopped = false;
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stopped && results.length < maxCount; i++) {
      const file = files[Math.floor(Math.random() * files.length)]!;
      results.push(await deliver(c, (w + i) % c.info.prisms.length, file));
    }
  });
  return {
    results,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return results;
    },
  };
}

/**
 * A multipart upload whose file part trickles in (`chunk` bytes every `everyMs`), so a fault can land mid-stream.
 * Resolves with the status and body; never rejects.
 */
export async function slowUpload(
  prismUrl: string,
  token: string,
  data: Buffer,
  chunk = 64 * 1024,
  everyMs = 15,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const boundary = `----oose${randomBytes(8).toString("hex")}`;
  async function* parts() {
    yield Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.bin"\r\n` +
        "Content-Type: application/octet-stream\r\n\r\n",
    );
    for (let i = 0; i < data.length; i += chunk) {
      yield data.subarray(i, i + chunk);
      await sleep(everyMs);
    }
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  try {
    const res = await request(`${prismUrl}/content/upload`, {
      method: "POST",
      headers: { "content-type": `multipart/form-data; boundary=${boundary}`, "x-oose-token": token },
      body: Readable.from(parts()),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  } catch (err) {
    return { status: 0, body: { error: (err as Error).message } };
  }
}

/** Percentile of a list of numbers (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

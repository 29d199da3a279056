import net from "node:net";
import type { Peer } from "../core/peer.js";
import type { Logger } from "../log.js";

// What this node itself knows about each store's reachability, ahead of the
// heartbeat's votes: those take a majority and a peer-table refresh, and a
// redirect to a dead nginx in the meantime is a failed delivery.
//
// Four sources mark a store suspect:
// - the probe (jobs/probe.ts): an HTTP request to the store's API and to the
//   health file its nginx serves from the disk, every second or so. It is the
//   one that catches a hung process or disk within a second;
// - a watch: an idle TCP connection to the store's API and to its nginx. A
//   process that dies closes its sockets, so the close arrives at once; a
//   reconnect that is refused marks that endpoint suspect until one succeeds
//   (the API for uploads and downloads, the nginx for deliveries);
// - request failures (connection errors, timeouts) on the way to the store;
// - this node's own heartbeat pings, which also catch a store that hangs with
//   its sockets open (a watch cannot see that: the kernel still accepts).
// Suspicion from requests and pings lasts `holdMs` unless a success clears it;
// the probe's lasts until the same endpoint answers a probe again (or `holdMs`,
// should the probe itself stop). Among suspects, the one that answered last is
// the least suspect.

export interface HealthOptions {
  /** Delay before a refused watch reconnects, doubled up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /** How long a failed request, ping or probe keeps a store suspect without a success. */
  holdMs?: number;
  /** A watch whose connect takes this long counts as refused (config probe.watchConnectTimeout). */
  connectTimeoutMs?: number;
  log?: Logger;
  now?: () => number;
}

/** Which of a store's endpoints a caller needs: its API (prism→store calls) or its public nginx (deliveries). */
export type Endpoint = "api" | "public";

type Reason = "request" | "ping" | `refused:${Endpoint}` | `probe:${Endpoint}`;

class Watch {
  private socket?: net.Socket;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private delay: number;

  constructor(
    readonly endpoint: string,
    private readonly host: string,
    private readonly port: number,
    private readonly onDown: (confirmed: boolean) => void,
    private readonly onOpen: () => void,
    private readonly retryMs: number,
    private readonly maxRetryMs: number,
    private readonly connectTimeoutMs: number,
  ) {
    this.delay = retryMs;
  }

  open(): void {
    if (this.stopped) return;
    let connectedAt = 0;
    const socket = net.connect({ host: this.host, port: this.port });
    this.socket = socket;
    socket.setNoDelay(true);
    // A host that is gone answers nothing at all: a connect that takes this long counts as refused.
    socket.setTimeout(this.connectTimeoutMs, () => socket.destroy());
    socket.on("connect", () => {
      socket.setTimeout(0);
      connectedAt = Date.now();
      this.delay = this.retryMs;
      socket.setKeepAlive(true, 5000);
      this.onOpen();
    });
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (this.stopped) return;
      if (connectedAt > 0) {
        // The peer closed an idle connection: it is dying, or just tidying up. Suspect it until a
        // new connection says otherwise, and ask at once (after a pause if it keeps closing at once,
        // so a fussy peer cannot spin this loop): a dead process is routed around within a round trip.
        this.onDown(false);
        if (Date.now() - connectedAt < 1000) {
          this.timer = setTimeout(() => this.open(), this.retryMs);
          this.timer.unref();
        } else this.open();
        return;
      }
      this.onDown(true);
      this.timer = setTimeout(() => this.open(), this.delay);
      this.timer.unref();
      this.delay = Math.min(this.delay * 2, this.maxRetryMs);
    });
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
  }
}

export class StoreHealth {
  /** store name → reason → until (ms; Infinity for a watch's refusal). */
  private readonly suspects = new Map<string, Map<Reason, number>>();
  private readonly watches = new Map<string, Watch[]>();
  private readonly announced = new Set<string>();
  /** store name → when it last answered a request, a ping or a probe. */
  private readonly lastAnswer = new Map<string, number>();
  /** Marks so far, and `<store>/<endpoint>` → the number of its latest: suspicion raised after a checkpoint. */
  private marks = 0;
  private readonly lastMark = new Map<string, number>();
  private readonly now: () => number;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly holdMs: number;

  constructor(private readonly o: HealthOptions = {}) {
    this.now = o.now ?? Date.now;
    this.retryMs = o.retryMs ?? 200;
    this.maxRetryMs = o.maxRetryMs ?? 1000;
    this.holdMs = o.holdMs ?? 30_000;
  }

  /** Watches the API and the public nginx of every store in `peers`; watches of stores gone from the list close. */
  track(peers: Peer[]): void {
    const wanted = new Map<string, string[]>();
    for (const p of peers) {
      if (p.type !== "store") continue;
      const nginx = p.nginxUrl ?? p.publicUrl;
      wanted.set(p.name, [p.url, ...(nginx ? [nginx] : [])]);
    }
    const kinds: Endpoint[] = ["api", "public"];
    for (const [name, watches] of this.watches) {
      const urls = wanted.get(name);
      if (urls && watches.length === urls.length && watches.every((w, i) => w.endpoint === urls[i])) continue;
      for (const w of watches) w.close();
      this.watches.delete(name);
      const reasons = this.suspects.get(name);
      for (const r of [...(reasons?.keys() ?? [])]) if (r.startsWith("refused:")) reasons!.delete(r);
    }
    for (const [name, urls] of wanted) {
      if (this.watches.has(name)) continue;
      const watches = urls.flatMap((u, i) => {
        const url = new URL(u);
        const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
        const reason: Reason = `refused:${kinds[i]!}`;
        return [
          new Watch(
            u,
            url.hostname.replace(/^\[|\]$/g, ""),
            port,
            (confirmed) => this.mark(name, reason, Number.POSITIVE_INFINITY, confirmed),
            () => this.clear(name, reason),
            this.retryMs,
            this.maxRetryMs,
            this.o.connectTimeoutMs ?? 3000,
          ),
        ];
      });
      this.watches.set(name, watches);
      for (const w of watches) w.open();
    }
  }

  stop(): void {
    for (const watches of this.watches.values()) for (const w of watches) w.close();
    this.watches.clear();
  }

  /** A request to the store failed in transport (refused, reset, timed out). */
  failed(name: string, why: "request" | "ping" = "request"): void {
    this.mark(name, why, this.now() + this.holdMs);
  }

  /** The store answered a request or a ping: what those suspected is cleared (a refused watch is not). */
  answered(name: string): void {
    this.lastAnswer.set(name, this.now());
    this.clear(name, "request");
    this.clear(name, "ping");
  }

  /** The probe's verdict on one endpoint: `problem` says what failed, none clears it. */
  probed(name: string, endpoint: Endpoint, problem?: string): void {
    if (problem === undefined) {
      this.lastAnswer.set(name, this.now());
      this.clear(name, `probe:${endpoint}`);
    } else this.mark(name, `probe:${endpoint}`, this.now() + this.holdMs, true, problem);
  }

  /**
   * Whether `name` should be avoided for `via`. A failed request or ping counts for both endpoints, and so
   * does a lost API for redirects (nginx and node share a host, so they tend to go together); a lost nginx
   * (or the disk it reads the health file from) does not keep prism-to-store calls away.
   */
  isSuspect(name: string, via: Endpoint = "api"): boolean {
    const reasons = this.suspects.get(name);
    if (!reasons) return false;
    const now = this.now();
    for (const [reason, until] of reasons) {
      if (until <= now) {
        reasons.delete(reason);
        this.announced.delete(`${name}/${reason}`);
        continue;
      }
      if (!reason.endsWith(":public") || via === "public") return true;
    }
    return false;
  }

  /** A point to ask `suspectSince` about later. */
  checkpoint(): number {
    return this.marks;
  }

  /**
   * Whether `name` is suspect for `via` on a failure seen after `checkpoint`. A store that was already
   * suspect when it was chosen (a fallback) and has not failed since is still doing its part.
   */
  suspectSince(name: string, checkpoint: number, via: Endpoint = "api"): boolean {
    return (this.lastMark.get(`${name}/${via}`) ?? 0) > checkpoint && this.isSuspect(name, via);
  }

  /** Why `name` is suspect for `via` (one of a few fixed reasons, e.g. "probe:public"), or undefined. */
  reason(name: string, via: Endpoint = "api"): Reason | undefined {
    if (!this.isSuspect(name, via)) return undefined;
    for (const reason of this.suspects.get(name)?.keys() ?? [])
      if (!reason.endsWith(":public") || via === "public") return reason;
    return undefined;
  }

  /** 0 for a store that is not suspect for `via`; else how long ago it last answered (Infinity: never). */
  suspicion(name: string, via: Endpoint = "api"): number {
    if (!this.isSuspect(name, via)) return 0;
    const at = this.lastAnswer.get(name);
    return at === undefined ? Number.POSITIVE_INFINITY : Math.max(1, this.now() - at);
  }

  /** Suspect stores with their reasons, for /stats and logs. */
  snapshot(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, reasons] of this.suspects) {
      if (this.isSuspect(name, "api") || this.isSuspect(name, "public")) out[name] = [...reasons.keys()];
    }
    return out;
  }

  /** `announce`: log it (a closed idle connection is suspected quietly until its reconnect is refused). */
  private mark(name: string, reason: Reason, until: number, announce = true, problem?: string): void {
    const reasons = this.suspects.get(name) ?? new Map<Reason, number>();
    this.suspects.set(name, reasons);
    const key = `${name}/${reason}`;
    if (announce && !this.announced.has(key)) {
      this.announced.add(key);
      this.o.log?.warn({ store: name, reason, problem }, "store suspect");
    }
    reasons.set(reason, until);
    this.marks++;
    this.lastMark.set(`${name}/public`, this.marks);
    if (!reason.endsWith(":public")) this.lastMark.set(`${name}/api`, this.marks);
  }

  private clear(name: string, reason: Reason): void {
    this.suspects.get(name)?.delete(reason);
    if (this.announced.delete(`${name}/${reason}`))
      this.o.log?.info({ store: name, reason }, "store no longer suspect");
  }
}

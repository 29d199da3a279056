import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { Agent, type Dispatcher, request } from "undici";
import type { Endpoint, StoreHealth } from "../routing/health.js";
import { nodeAgent } from "../client/http.js";
import type { Config } from "../config.js";
import type { Peer } from "../core/peer.js";
import { DISK_HEALTH_PATH } from "./disk-health.js";

// A prism's own quick check of every store, apart from the heartbeat (whose
// votes take a majority and seconds). Every interval it asks each store's API
// for /ping and its nginx for the health file the node keeps on the disk, each
// with a short deadline. A store that misses one is suspect at once (for
// deliveries, and for uploads too when its API is the one that missed), and is
// cleared by the next good answer. A hung process still accepts connections,
// so only a real request, with a deadline, tells it from a live one.

export interface ProbeDeps {
  /** The stores to probe, asked each round. */
  stores: () => Peer[];
  health: StoreHealth;
  settings: Pick<Config["probe"], "interval" | "timeout" | "staleAfter">;
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * What is wrong with nginx's answer for the health file, if anything. Its age is read off the store's own clock
 * (Date against Last-Modified, both from nginx), so clock skew between hosts does not count.
 */
export function diskProblem(status: number, headers: Headers, staleAfter: number): string | undefined {
  if (status !== 200) return `health file: nginx answered ${status}`;
  const age = Date.parse(String(headers.date)) - Date.parse(String(headers["last-modified"]));
  if (Number.isNaN(age)) return "health file: no Date or Last-Modified";
  if (age > staleAfter) return `health file: written ${Math.round(age / 1000)} s ago`;
  return undefined;
}

export class StoreProbe {
  private timer?: NodeJS.Timeout;
  private stopped = true;
  /** `<store>/<endpoint>` → the probe in flight; one at a time each. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly api: Agent;
  private readonly nginx: Agent;
  /** A store's nginx reached by an inside name shows the certificate of its public name. */
  private readonly publicName = new Map<string, string>();

  constructor(private readonly d: ProbeDeps) {
    const opts = { connect: { timeout: d.settings.timeout } };
    this.api = nodeAgent(opts);
    // End users reach nginx with the system's trust, not the cluster CA: so does the probe.
    this.nginx = new Agent({
      connect: {
        ...opts.connect,
        checkServerIdentity: (host: string, cert: PeerCertificate) =>
          checkServerIdentity(this.publicName.get(host) ?? host, cert),
      },
    });
  }

  start(): void {
    this.stopped = false;
    this.round();
    this.timer = setInterval(() => this.round(), this.d.settings.interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all(this.inFlight.values());
    await Promise.all([this.api.close(), this.nginx.close()]);
  }

  /** Sends one probe to each endpoint of each store (skipping one whose last probe is still out). */
  round(): void {
    for (const p of this.d.stores()) {
      this.check(p, "api", this.api, `${p.url}/ping`, pingProblem);
      const nginx = p.nginxUrl ?? p.publicUrl;
      if (nginx) {
        if (p.nginxUrl && p.publicUrl) this.publicName.set(new URL(p.nginxUrl).hostname, new URL(p.publicUrl).hostname);
        const stale = this.d.settings.staleAfter;
        this.check(p, "public", this.nginx, `${nginx}${DISK_HEALTH_PATH}`, async (status, headers, body) => {
          await body.dump();
          return diskProblem(status, headers, stale);
        });
      }
    }
  }

  private check(peer: Peer, endpoint: Endpoint, dispatcher: Dispatcher, url: string, judge: Judge): void {
    const key = `${peer.name}/${endpoint}`;
    if (this.inFlight.has(key)) return;
    const done = this.ask(dispatcher, url, judge)
      .then((problem) => {
        if (!this.stopped) this.d.health.probed(peer.name, endpoint, problem);
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, done);
  }

  private async ask(dispatcher: Dispatcher, url: string, judge: Judge): Promise<string | undefined> {
    const { timeout } = this.d.settings;
    const abort = new AbortController();
    let done = false;
    // The deadline is checked after pending I/O: a prism whose own event loop stalled past it finds
    // the store's answer waiting, and does not blame the store for its own delay.
    const timer = setTimeout(() => setImmediate(() => done || abort.abort()), timeout);
    try {
      const res = await request(url, { dispatcher, signal: abort.signal });
      return await judge(res.statusCode, res.headers, res.body);
    } catch (err) {
      return abort.signal.aborted ? `no answer within ${timeout} ms` : (err as Error).message;
    } finally {
      done = true;
      clearTimeout(timer);
    }
  }
}

type Judge = (status: number, headers: Headers, body: Dispatcher.ResponseData["body"]) => Promise<string | undefined>;

async function pingProblem(status: number, _headers: Headers, body: Dispatcher.ResponseData["body"]) {
  const reply = (await body.json().catch(() => undefined)) as { pong?: string } | undefined;
  return status === 200 && reply?.pong === "pong" ? undefined : `/ping answered ${status}`;
}

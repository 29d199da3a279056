import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import { pipeline, type Readable, Transform } from "node:stream";
import ipaddr from "ipaddr.js";
import { Agent, request } from "undici";
import { BadRequest, Forbidden, PayloadTooLarge, PeerUnavailable } from "../errors.js";

// Imports from a URL without becoming an open proxy (OOSE's SSRF, spec §14.17):
// http(s) only, every hop's addresses checked at connect time (so DNS cannot
// swap in a private address after the check), bounded redirects, size and time.

const MAX_REDIRECTS = 5;

function publicOnly(address: string): boolean {
  const ip = ipaddr.process(address);
  return ip.range() === "unicast";
}

function checkAddress(address: string, allowPrivate: boolean): void {
  if (!allowPrivate && !publicOnly(address)) throw new Forbidden(`Address not allowed: ${address}`);
}

export interface Fetched {
  body: Readable;
  contentType?: string;
  url: string;
}

export class Retriever {
  private readonly agent: Agent;

  constructor(private readonly opts: { allowPrivate: boolean; maxBytes: number; timeoutMs: number }) {
    this.agent = new Agent({
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connect: {
        timeout: opts.timeoutMs,
        lookup: (hostname, options, cb) =>
          dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
            if (err) return cb(err, "", 4);
            const bad = addresses.find((a) => !opts.allowPrivate && !publicOnly(a.address));
            if (bad) return cb(new Forbidden(`Address not allowed: ${bad.address}`), "", 4);
            if (options.all) return (cb as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
            return cb(null, addresses[0]!.address, addresses[0]!.family);
          }),
      },
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  async fetch(rawUrl: string): Promise<Fetched> {
    let url = parse(rawUrl);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const host = url.hostname.replace(/^\[|\]$/g, "");
      if (isIP(host)) checkAddress(host, this.opts.allowPrivate);
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(url, { dispatcher: this.agent, method: "GET", signal: AbortSignal.timeout(this.opts.timeoutMs) });
      } catch (err) {
        if (err instanceof Forbidden || (err as { cause?: unknown }).cause instanceof Forbidden) {
          throw err instanceof Forbidden ? err : ((err as { cause: Forbidden }).cause);
        }
        throw new PeerUnavailable(`Could not fetch ${url.origin}: ${(err as Error).message}`);
      }
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && location) {
        await res.body.dump();
        url = parse(new URL(String(location), url).toString());
        continue;
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new BadRequest(`Remote answered ${res.statusCode}`);
      }
      const length = Number(res.headers["content-length"] ?? 0);
      if (length > this.opts.maxBytes) {
        res.body.destroy();
        throw new PayloadTooLarge(`Remote file is ${length} bytes; the limit is ${this.opts.maxBytes}`);
      }
      const type = res.headers["content-type"];
      // pipeline (not pipe) so a remote failure reaches the reader as an error.
      const body = pipeline(res.body, limit(this.opts.maxBytes), () => undefined);
      return { body, contentType: type ? String(type) : undefined, url: url.toString() };
    }
    throw new BadRequest(`More than ${MAX_REDIRECTS} redirects`);
  }
}

function parse(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BadRequest("Invalid URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new BadRequest("Only http and https URLs");
  if (url.username || url.password) throw new BadRequest("Credentials in URLs are not allowed");
  return url;
}

function limit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) return done(new PayloadTooLarge(`Remote file exceeds ${max} bytes`));
      done(null, chunk);
    },
  });
}

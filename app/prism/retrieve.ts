import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import { Readable } from "node:stream";
import ipaddr from "ipaddr.js";
import { Agent, request } from "undici";
import { AppError, BadRequest, Forbidden, PayloadTooLarge, UpstreamFailed, UpstreamTimeout } from "../errors.js";

// Imports from a URL without becoming an open proxy (OOSE's SSRF, spec §14.17):
// http(s) only, every hop's addresses checked at connect time (so DNS cannot
// swap in a private address after the check), bounded redirects and size.
// Time is bounded per step (connect, headers, each gap between chunks), not
// for the whole transfer, so a large import from a slow but live server completes.

const MAX_REDIRECTS = 5;
// ::a.b.c.d, the deprecated IPv4-compatible form, reaches a.b.c.d on some stacks; nothing public lives there.
const IPV4_COMPATIBLE = ipaddr.parseCIDR("::/96");
const TIMEOUTS = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"]);

function publicOnly(address: string): boolean {
  const ip = ipaddr.process(address);
  if (ip instanceof ipaddr.IPv6 && ip.match(IPV4_COMPATIBLE)) return false;
  return ip.range() === "unicast";
}

/** A transport failure of the remote server: 504 when it went silent, 502 otherwise (reset, refused, cut short). */
function remoteFailure(err: unknown, origin: string): AppError {
  if (err instanceof AppError) return err;
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (code && TIMEOUTS.has(code)) return new UpstreamTimeout(`${origin} stopped answering`, undefined, err);
  return new UpstreamFailed(`${origin} failed: the connection broke`, undefined, err);
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

  constructor(private readonly opts: { allowPrivate: boolean; maxBytes: number; timeoutMs: number; idleMs: number }) {
    this.agent = new Agent({
      headersTimeout: opts.timeoutMs,
      // Between two chunks, not the whole body.
      bodyTimeout: opts.idleMs,
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
        res = await request(url, { dispatcher: this.agent, method: "GET" });
      } catch (err) {
        if (err instanceof Forbidden || (err as { cause?: unknown }).cause instanceof Forbidden) {
          throw err instanceof Forbidden ? err : (err as { cause: Forbidden }).cause;
        }
        throw remoteFailure(err, url.origin);
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
      const body = Readable.from(bounded(res.body, this.opts.maxBytes, url.origin));
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

/** The remote body, capped at `max` bytes; its failures reach the reader already classified. */
async function* bounded(body: Readable, max: number, origin: string): AsyncGenerator<Buffer> {
  let seen = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > max) throw new PayloadTooLarge(`Remote file exceeds ${max} bytes`);
      yield chunk;
    }
  } catch (err) {
    throw remoteFailure(err, origin);
  }
}

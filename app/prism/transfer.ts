import { Transform } from "node:stream";
import { Agent, request } from "undici";
import type { Credentials } from "../topology/env.js";
import { AppError, PeerUnavailable } from "../errors.js";
import type { HashType } from "../core/hash.js";
import type { Peer } from "../core/peer.js";

// Prism → store calls for the write path. Staging streams a body to a store
// before its hash is known; commit publishes it under the hash; abort drops it.

export interface StageResult {
  hash: string;
  size: number;
}

export class StoreTransport {
  readonly agent = new Agent({ keepAliveTimeout: 10_000, connections: 128, headersTimeout: 0, bodyTimeout: 0 });
  readonly authHeader: string;

  constructor(
    creds: Credentials,
    private readonly timeoutMs: number,
  ) {
    this.authHeader = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  /** JSON call with a deadline; store errors keep their code and status, transport errors are 503. */
  async call<T>(peer: Peer, path: string, body: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(`${peer.url}${path}`, {
        method: "POST",
        dispatcher: this.agent,
        headers: { authorization: this.authHeader, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new PeerUnavailable(`Store ${peer.name} unreachable`, undefined, err);
    }
    return decode<T>(peer, res);
  }

  /**
   * Opens a staging upload. Write the bytes to `sink`, end it, then await `result`.
   * An idle watchdog aborts the upload when no byte moves for timeoutMs.
   */
  stage(peer: Peer, id: string, hashType: HashType): { sink: Transform; result: Promise<StageResult>; abort(): void } {
    const ctl = new AbortController();
    let timer = setTimeout(() => ctl.abort(), this.timeoutMs);
    const poke = () => {
      clearTimeout(timer);
      timer = setTimeout(() => ctl.abort(), this.timeoutMs);
    };
    // Pokes the watchdog as bytes pass; a 'data' listener here would start the flow before undici reads.
    const sink = new Transform({
      highWaterMark: 256 * 1024,
      transform(chunk, _enc, done) {
        poke();
        done(null, chunk);
      },
      flush(done) {
        poke();
        done();
      },
    });
    const result = request(`${peer.url}/content/stage/${id}?hashType=${hashType}`, {
      method: "PUT",
      dispatcher: this.agent,
      headers: { authorization: this.authHeader, "content-type": "application/octet-stream" },
      body: sink,
      signal: ctl.signal,
    })
      .then((res) => decode<StageResult>(peer, res), (err) => {
        throw err instanceof AppError ? err : new PeerUnavailable(`Store ${peer.name} failed during upload`, undefined, err);
      })
      .finally(() => clearTimeout(timer));
    result.catch(() => undefined);
    return {
      sink,
      result,
      abort: () => {
        ctl.abort();
        sink.destroy();
      },
    };
  }
}

async function decode<T>(peer: Peer, res: Awaited<ReturnType<typeof request>>): Promise<T> {
  const text = await res.body.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new PeerUnavailable(`Store ${peer.name} answered ${res.statusCode} with no JSON`);
  }
  if (res.statusCode >= 400) {
    if (res.statusCode >= 500) throw new PeerUnavailable(`Store ${peer.name}: ${String(body.error ?? res.statusCode)}`);
    throw new AppError(String(body.code ?? "STORE_ERROR"), res.statusCode, String(body.error ?? "Store error"));
  }
  return body as T;
}

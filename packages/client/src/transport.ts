import { type Readable, Transform } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, type Dispatcher, request } from "undici";
import { errorFromReply, OoseError, SOURCE_FAILED, TIMEOUT, TimeoutError, transportError } from "./errors.js";

// One HTTP call with a deadline, and retries for the calls that may be
// repeated. undici does the HTTP; this adds what it does not: an idle timeout
// on a body being sent, backoff, and errors with a code and a status.

export interface RetryOptions {
  /** Further attempts after the first. Default 2. */
  retries: number;
  /** Backoff before the first retry, doubled each time (with jitter). Default 200 ms. */
  minDelayMs: number;
  /** Longest wait between attempts, a 503's Retry-After included. Default 3 s. */
  maxDelayMs: number;
}

export interface TransportOptions {
  baseUrl: string;
  /** Deadline for an answer's headers, and the longest a body (either way) may sit idle. Default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryOptions>;
  /** CA certificate(s) to trust for the prism, e.g. a cluster's own CA; default: the system's. */
  ca?: string | Buffer | (string | Buffer)[];
  /** An undici dispatcher of your own (proxy, pool sizes); default: undici's global one. */
  dispatcher?: Dispatcher;
}

export interface Call {
  method: "GET" | "POST";
  /** A path under the base URL, or an absolute URL. */
  path: string;
  json?: unknown;
  /** A streamed body: sent once, never retried. */
  body?: Readable;
  headers?: Record<string, string>;
  /** Safe or idempotent: retried after a transport failure or a 503. */
  retry?: boolean;
  /** Non-2xx statuses the caller reads itself (a redirect). */
  accept?: number[];
  /** Told each chunk of `body` as it leaves. */
  onSent?: (bytes: number) => void;
  signal?: AbortSignal;
}

const DEFAULT_RETRY: RetryOptions = { retries: 2, minDelayMs: 200, maxDelayMs: 3000 };

/** Passes a body through, aborting when no byte moves for `ms`: undici's own timeouts start once it is sent. */
function watched(body: Readable, ms: number, ctl: AbortController, onSent?: (bytes: number) => void) {
  let timer: NodeJS.Timeout | undefined;
  let failure: unknown;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(new TimeoutError(TIMEOUT, 0, `upload idle for ${ms} ms`)), ms);
  };
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      arm();
      onSent?.(chunk.length);
      done(null, chunk);
    },
  });
  const stop = () => clearTimeout(timer);
  stream.on("close", stop);
  body.on("error", (err) => {
    failure = new OoseError(SOURCE_FAILED, 0, `the upload's source failed: ${err.message}`, {}, err);
    stream.destroy(err);
  });
  arm();
  body.pipe(stream);
  return { stream, stop, failure: () => failure };
}

export class Transport {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  private readonly retry: RetryOptions;
  private readonly dispatcher?: Dispatcher;
  private readonly own?: Agent;

  constructor(opts: TransportOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    if (opts.ca && !opts.dispatcher) {
      this.own = new Agent({ connect: { ca: opts.ca, timeout: Math.min(this.timeoutMs, 10_000) } });
    }
    this.dispatcher = opts.dispatcher ?? this.own;
  }

  /** Resolves with the answer (body unread) for a 2xx or an accepted status; throws an OoseError otherwise. */
  async send(call: Call): Promise<Dispatcher.ResponseData> {
    const retries = call.retry && !call.body ? this.retry.retries : 0;
    for (let attempt = 0; ; attempt++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await this.once(call);
      } catch (err) {
        if (attempt < retries && err instanceof OoseError && err.status === 0 && !call.signal?.aborted) {
          await sleep(this.backoff(attempt), undefined, { signal: call.signal });
          continue;
        }
        throw err;
      }
      const ok = (res.statusCode >= 200 && res.statusCode < 300) || call.accept?.includes(res.statusCode);
      if (ok) return res;
      if (res.statusCode === 503 && attempt < retries) {
        await res.body.dump();
        await sleep(this.backoff(attempt, res.headers["retry-after"]), undefined, { signal: call.signal });
        continue;
      }
      const text = await res.body.text().catch(() => "");
      throw errorFromReply(res.statusCode, text, `${call.method} ${call.path}`);
    }
  }

  private backoff(attempt: number, retryAfter?: string | string[]): number {
    const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    if (retryAfter !== undefined && Number.isFinite(seconds)) return Math.min(seconds * 1000, this.retry.maxDelayMs);
    const base = Math.min(this.retry.maxDelayMs, this.retry.minDelayMs * 2 ** attempt);
    return base * (0.5 + Math.random() / 2);
  }

  /** A path goes under the base URL; a protocol-relative URL (OOSE's `//host/<token>/<name>`) takes its scheme. */
  private urlOf(path: string): string {
    if (/^https?:\/\//.test(path)) return path;
    if (path.startsWith("//")) return `${new URL(this.baseUrl).protocol}${path}`;
    return `${this.baseUrl}${path}`;
  }

  private async once(call: Call): Promise<Dispatcher.ResponseData> {
    const what = `${call.method} ${call.path}`;
    const headers: Record<string, string> = { ...call.headers };
    let body: string | Readable | undefined;
    if (call.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.json);
    }
    const ctl = new AbortController();
    const guard = call.body ? watched(call.body, this.timeoutMs, ctl, call.onSent) : undefined;
    const signal = call.signal ? AbortSignal.any([ctl.signal, call.signal]) : ctl.signal;
    const url = this.urlOf(call.path);
    try {
      return await request(url, {
        method: call.method,
        headers,
        body: guard?.stream ?? body,
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal,
      });
    } catch (err) {
      if (call.signal?.aborted) throw call.signal.reason;
      if (ctl.signal.aborted) throw ctl.signal.reason;
      throw guard?.failure() ?? transportError(err, what);
    } finally {
      // The answer's headers are in: undici's timeouts take over.
      guard?.stop();
    }
  }

  async close(): Promise<void> {
    await this.own?.close();
  }
}

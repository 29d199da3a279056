import http from "node:http";
import https from "node:https";
import { type Readable, Transform } from "node:stream";
import { Agent, type Dispatcher, request } from "undici";
import { AppError, ClientAborted, PeerUnavailable } from "../errors.js";
import { isClientAbort } from "../http/errors.js";
import type { Credentials } from "../config.js";

// The base of the typed clients: one keep-alive agent shared by every client in
// the process, a deadline on every call, node errors kept as AppErrors with
// their code and status, and transport failures turned into PeerUnavailable
// (503) so callers can fail over to another node.

export interface ClientOptions {
  baseUrl: string;
  auth?: Credentials;
  /** Deadline for headers, and the longest a body may sit idle. Default 30 s. */
  timeoutMs?: number;
  dispatcher?: Dispatcher;
  /** Names the node in errors, e.g. "store1". */
  name?: string;
}

export interface CallOptions {
  json?: unknown;
  body?: Readable | Buffer;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

let shared: Agent | undefined;
let trusted: string | string[] | undefined;

/**
 * Calls to other nodes verify certificates against the cluster CA alone, not
 * the system's CAs: only a certificate the cluster issued passes for a node.
 * Without a CA (plain HTTP, or certificates from a public CA) the system's CAs
 * apply. Verification itself is never switched off.
 */
export function trustNodeCa(ca: string | string[] | undefined): void {
  trusted = ca;
  const old = shared;
  shared = undefined;
  void old?.close();
  const agents = nodeAgents;
  nodeAgents = undefined;
  agents?.http.destroy();
  agents?.https.destroy();
}

let nodeAgents: { http: http.Agent; https: https.Agent } | undefined;

/** Keep-alive agents of node:http, with the same trust, for the calls undici cannot make (request trailers). */
export function nodeHttpAgents(): { http: http.Agent; https: https.Agent } {
  // noDelay: a trailer is a small last write, which Nagle would hold until the store's delayed ACK (~40 ms).
  nodeAgents ??= {
    http: new http.Agent({ keepAlive: true, maxSockets: 128, noDelay: true }),
    https: new https.Agent({ keepAlive: true, maxSockets: 128, noDelay: true, ...(trusted ? { ca: trusted } : {}) }),
  };
  return nodeAgents;
}

/** An undici Agent for calls to nodes, with the trust set by trustNodeCa. */
export function nodeAgent(opts: Agent.Options = {}): Agent {
  const connect = typeof opts.connect === "function" ? {} : opts.connect;
  return new Agent({ ...opts, connect: { ...connect, ...(trusted ? { ca: trusted } : {}) } });
}

export function sharedAgent(): Agent {
  shared ??= nodeAgent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connections: 128 });
  return shared;
}

export async function closeSharedAgent(): Promise<void> {
  const agent = shared;
  shared = undefined;
  nodeAgents?.http.destroy();
  nodeAgents?.https.destroy();
  nodeAgents = undefined;
  await agent?.close();
}

/** Rebuilds the node's error from an error response; non-JSON bodies keep the status. */
export async function errorFrom(res: Dispatcher.ResponseData, name: string): Promise<AppError> {
  return errorFromText(res.statusCode, await res.body.text().catch(() => ""), name);
}

export function errorFromText(status: number, text: string, name: string): AppError {
  let body: Record<string, unknown> | undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (body && typeof body.error === "string") {
    const { error, code, ...details } = body;
    return new AppError(typeof code === "string" ? code : `HTTP_${status}`, status, error, details);
  }
  return new AppError(`HTTP_${status}`, status, `${name} answered ${status}`);
}

/**
 * Passes a request body through, aborting when no byte moves for `ms`: undici's
 * timeouts start after the body is sent, so a stalled upload needs its own.
 */
function idleGuard(
  body: Readable,
  ms: number,
  ctl: AbortController,
): { stream: Readable; stop(): void; failed(): unknown } {
  let timer: NodeJS.Timeout | undefined;
  let bodyError: unknown;
  let stopped = false;
  const arm = () => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(() => ctl.abort(), ms);
  };
  // A Transform, not a 'data' listener: it sees chunks as they are written, without forcing flowing mode.
  const stream = new Transform({
    highWaterMark: 256 * 1024,
    transform(chunk, _enc, done) {
      arm();
      done(null, chunk);
    },
  });
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  arm();
  stream.on("close", stop);
  body.on("error", (err) => {
    bodyError = err;
    stream.destroy(err);
  });
  body.pipe(stream);
  return { stream, stop, failed: () => bodyError };
}

/** A failure of the body we were sending keeps its own classification; a cut-off client upload is ClientAborted. */
function ownBodyError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  return isClientAbort(err) ? new ClientAborted(undefined, undefined, err) : err;
}

export class HttpClient {
  readonly baseUrl: string;
  readonly name: string;
  protected readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher;
  protected readonly authHeader?: string;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/$/, "");
    this.name = opts.name ?? new URL(this.baseUrl).host;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.dispatcher = opts.dispatcher ?? sharedAgent();
    if (opts.auth) {
      this.authHeader = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString("base64")}`;
    }
  }

  /** One HTTP call; resolves only for 2xx, with the body still to be read. */
  protected async call(method: Dispatcher.HttpMethod, path: string, opts: CallOptions = {}) {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const headers: Record<string, string> = { ...opts.headers };
    if (this.authHeader) headers.authorization = this.authHeader;
    let body: Readable | Buffer | string | undefined = opts.body;
    if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    const ctl = new AbortController();
    const guard =
      body && typeof body !== "string" && !Buffer.isBuffer(body) ? idleGuard(body, timeoutMs, ctl) : undefined;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: guard?.stream ?? body,
        dispatcher: this.dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: ctl.signal,
      });
    } catch (err) {
      // Our own body failing (the client's upload cut short or refused, a local read) is not the peer's fault.
      const own = guard?.failed();
      if (own !== undefined) throw ownBodyError(own);
      throw new PeerUnavailable(`${this.name} unreachable (${method} ${path})`, undefined, err);
    } finally {
      // Headers are in: the upload is over (or refused), and headersTimeout/bodyTimeout take it from here.
      guard?.stop();
    }
    if (res.statusCode >= 400) throw await errorFrom(res, this.name);
    return res;
  }

  protected async json<T>(method: Dispatcher.HttpMethod, path: string, opts: CallOptions = {}): Promise<T> {
    const res = await this.call(method, path, opts);
    try {
      return (await res.body.json()) as T;
    } catch (err) {
      throw new PeerUnavailable(`${this.name} sent an unreadable answer (${method} ${path})`, undefined, err);
    }
  }
}

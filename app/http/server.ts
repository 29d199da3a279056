import type { FastifyInstance } from "fastify";
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as TlsOptions } from "node:https";
import type { Config } from "../config.js";

// The listening socket of every node, with the limits that keep a slow or
// hostile client from pinning it: headers, keep-alive, idle and body
// deadlines, and a cap on open connections. A whole-request cap stays off by
// default: an upload of a large file is long but never idle.

export type ServerLimits = Pick<
  Config["limits"],
  "headersTimeoutMs" | "keepAliveTimeoutMs" | "bodyIdleMs" | "bodyTimeoutMs" | "wholeRequestMs" | "maxConnections"
>;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export function createNodeServer(limits: ServerLimits, tls: TlsOptions | undefined, handle: Handler): Server {
  const whole = limits.wholeRequestMs;
  const options: ServerOptions = {
    // Node refuses a headers deadline past the whole-request one.
    headersTimeout: whole > 0 ? Math.min(limits.headersTimeoutMs, whole) : limits.headersTimeoutMs,
    requestTimeout: whole,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two deadlines above this often; its default (30 s) would stretch them.
    connectionsCheckingInterval: 1000,
  };
  const serve: Handler = (req, res) => {
    idleWhileArriving(req, res, limits.bodyIdleMs);
    handle(req, res);
  };
  const server = tls
    ? createHttpsServer({ ...tls, ...options, handshakeTimeout: limits.headersTimeoutMs }, serve)
    : createServer(options, serve);
  server.maxConnections = limits.maxConnections;
  // A connection that never sends a request is closed too.
  server.setTimeout(limits.bodyIdleMs);
  return server;
}

const hasBody = (req: IncomingMessage) =>
  req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;

/**
 * The socket's idle timer runs while a request arrives. Once its body is in,
 * the route may think as long as it needs (a commit on every store, an
 * import), and after the response Node's keep-alive timer takes over.
 */
function idleWhileArriving(req: IncomingMessage, res: ServerResponse, ms: number): void {
  if (ms === 0) return;
  // Without a body, the headers were the whole request.
  if (!hasBody(req)) {
    req.socket.setTimeout(0);
    return;
  }
  req.socket.setTimeout(ms);
  req.once("end", () => {
    // A body nobody read is drained after the response, when the keep-alive timer is already set.
    if (!res.writableEnded) req.socket.setTimeout(0);
  });
}

// The bodies fastify parses whole (JSON and text, under bodyLimit); streamed uploads have their own idle limit.
const PARSED_WHOLE = /^\s*(application\/([\w.+-]+\+)?json|text\/plain)\b/i;

/** A body fastify parses whole must arrive within `ms`, so one that drips a byte at a time is cut off. */
export function bodyDeadline(app: FastifyInstance, ms: number): void {
  if (ms === 0) return;
  app.addHook("preParsing", async (req, reply, payload) => {
    if (!hasBody(req.raw) || !PARSED_WHOLE.test(req.headers["content-type"] ?? "")) return payload;
    const timer = setTimeout(() => {
      req.log.debug({ url: req.url, ms }, "request body too slow; connection closed");
      req.raw.socket.destroy();
    }, ms);
    const done = () => clearTimeout(timer);
    payload.once("end", done);
    payload.once("close", done);
    reply.raw.once("finish", done);
    return payload;
  });
}

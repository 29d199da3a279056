import http from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { request } from "undici";

// A plain-HTTP hop in front of a real prism that forwards every request unless
// told to fail it: a 503 with the prism's error body for the next N requests
// on a path, or no answer at all. It counts what reached it, so a test sees
// how often the client tried.

export interface FaultyProxy {
  url: string;
  /** Requests that reached the proxy, by path. */
  hits: Map<string, number>;
  /** Path → how many of its next requests get a 503 (their body read first). */
  unavailable: Map<string, number>;
  /** Paths whose requests are held open unanswered. */
  silent: Set<string>;
  close(): Promise<void>;
}

export async function faultyProxy(target: string): Promise<FaultyProxy> {
  const hits = new Map<string, number>();
  const unavailable = new Map<string, number>();
  const silent = new Set<string>();
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url!, "http://proxy").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (silent.has(path)) return;
    const failing = unavailable.get(path) ?? 0;
    if (failing > 0) {
      unavailable.set(path, failing - 1);
      req
        .resume()
        .once("end", () =>
          res
            .writeHead(503, { "content-type": "application/json" })
            .end(JSON.stringify({ error: "Backend unavailable", code: "BACKEND_UNAVAILABLE" })),
        );
      return;
    }
    const { host: _host, connection: _connection, ...headers } = req.headers;
    try {
      const up = await request(`${target}${req.url}`, { method: req.method as "GET", headers, body: req });
      res.writeHead(up.statusCode, up.headers as http.OutgoingHttpHeaders);
      await pipeline(up.body, res);
    } catch {
      res.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    unavailable,
    silent,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

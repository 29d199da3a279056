import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import { AppError, PeerUnavailable } from "../errors.js";
import { errorFromText, nodeHttpAgents } from "./http.js";

// A streamed request whose last word is sent after its body: HTTP/1.1
// trailers on a chunked body. The prism streams an upload to a store while
// hashing it and, once the hash is known and the copy's fate decided, ends the
// same request with the order to keep or drop it: one request per copy.
// undici cannot send request trailers; node:http can.

export interface TrailerRequest {
  url: string;
  method: "PUT" | "POST";
  headers: Record<string, string>;
  body: Readable;
  /** The trailer field, announced up front. */
  trailerName: string;
  /** Resolved after the body ended; it goes out as the trailer. Rejected: the request is abandoned. */
  trailer: Promise<string>;
  /** Longest silence on the socket, while sending or waiting for the answer. */
  timeoutMs: number;
  /** Names the node in errors. */
  name: string;
}

export function requestWithTrailer<T>(o: TrailerRequest): Promise<T> {
  const url = new URL(o.url);
  const secure = url.protocol === "https:";
  const agents = nodeHttpAgents();
  const what = `${o.method} ${url.pathname}`;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err instanceof AppError ? err : new PeerUnavailable(`${o.name} unreachable (${what})`, undefined, err));
      req.destroy();
    };
    const req = (secure ? https : http).request(url, {
      method: o.method,
      agent: secure ? agents.https : agents.http,
      headers: { ...o.headers, trailer: o.trailerName },
    });
    req.setTimeout(o.timeoutMs, () => fail(new Error(`no progress for ${o.timeoutMs} ms`)));
    req.on("error", fail);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", fail);
      res.on("end", () => {
        if (settled) return;
        const text = Buffer.concat(chunks).toString("utf8");
        const status = res.statusCode ?? 0;
        if (status >= 400) return fail(errorFromText(status, text, o.name));
        try {
          settled = true;
          resolve(JSON.parse(text) as T);
        } catch (err) {
          settled = false;
          fail(new PeerUnavailable(`${o.name} sent an unreadable answer (${what})`, undefined, err));
        }
      });
    });
    let ended = false;
    o.body.on("end", () => {
      ended = true;
      o.trailer.then(
        (value) => {
          req.addTrailers({ [o.trailerName]: value });
          req.end();
        },
        (err) => fail(err),
      );
    });
    // Destroyed before its end: the upload was given up, and the store drops what it got.
    o.body.on("close", () => {
      if (!ended) fail(new PeerUnavailable(`${o.name}: upload abandoned (${what})`));
    });
    o.body.on("error", fail);
    o.body.pipe(req, { end: false });
  });
}

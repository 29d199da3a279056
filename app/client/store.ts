import type { Readable } from "node:stream";
import type { HashType } from "../core/hash.js";
import type { Pong } from "../contracts/common.js";
import {
  type AbortReply,
  COMMIT_TRAILER,
  type ExistsEntry,
  type ExistsReply,
  type FileDetail,
  type PutReply,
  type RemoveReply,
  type SendReply,
  type StageReply,
  type UploadReply,
  type VerifyReply,
} from "../contracts/store.js";
import { requestWithTrailer } from "./trailer.js";
import { type ClientOptions, HttpClient } from "./http.js";

// Typed client for a store's API (spec §3.2), its types those of the store's
// contract (app/contracts/store.ts). Every call has a deadline; a store's
// error comes back as an AppError with its code and status, and a store that
// cannot be reached as PeerUnavailable (503).

export type { ClientOptions };

export interface Download {
  /** 200, or 206 for a range. */
  status: number;
  /** Bytes in this response. */
  length: number;
  /** Size of the whole file. */
  size: number;
  contentType: string;
  body: Readable;
}

export class StoreClient extends HttpClient {
  /** Streams `body` to the store under `<hash>.<ext>`; the store verifies the hash before it keeps anything. */
  put(file: string, body: Readable | Buffer, size?: number): Promise<PutReply> {
    const length = Buffer.isBuffer(body) ? body.length : size;
    return this.json<PutReply>("PUT", `/content/put/${encodeURIComponent(file)}`, {
      body,
      headers: {
        "content-type": "application/octet-stream",
        ...(length === undefined ? {} : { "content-length": String(length) }),
      },
    });
  }

  /**
   * The bytes of a hash; `range` is inclusive, like HTTP's. The caller must consume or destroy `body`.
   * `timeoutMs` bounds the wait for the answer and any stall of the body while it is being read
   * (a reader that applies backpressure does not count), so a hung store can be failed over quickly.
   */
  async download(hash: string, range?: { start: number; end?: number }, timeoutMs?: number): Promise<Download> {
    const res = await this.call("POST", "/content/download", {
      json: { hash },
      headers: range ? { range: `bytes=${range.start}-${range.end ?? ""}` } : {},
      timeoutMs,
    });
    const length = Number(res.headers["content-length"] ?? 0);
    const total = /\/(\d+)$/.exec(String(res.headers["content-range"] ?? ""))?.[1];
    return {
      status: res.statusCode,
      length,
      size: total ? Number(total) : length,
      contentType: String(res.headers["content-type"] ?? "application/octet-stream"),
      body: res.body,
    };
  }

  exists(hash: string, timeoutMs?: number): Promise<ExistsEntry>;
  exists(hashes: string[], timeoutMs?: number): Promise<Record<string, ExistsEntry>>;
  async exists(hash: string | string[], timeoutMs?: number): Promise<ExistsEntry | Record<string, ExistsEntry>> {
    const reply = await this.json<ExistsReply>("POST", "/content/exists", { json: { hash }, timeoutMs });
    return Array.isArray(hash) ? reply : reply.exists!;
  }

  detail(hash: string): Promise<FileDetail> {
    return this.json("POST", "/content/detail", { json: { hash } });
  }

  /** Verifies, then deletes the copy; a failed verify is a VERIFY_FAILED (422) error. */
  remove(hash: string): Promise<RemoveReply> {
    return this.json("POST", "/content/remove", { json: { hash } });
  }

  /** Has this store copy `file` to `store` (`<prism>:<store>`). Long transfers need a larger timeoutMs. */
  send(file: string, store: string, timeoutMs?: number): Promise<SendReply> {
    return this.json("POST", "/content/send", { json: { file, store }, timeoutMs });
  }

  verify(file: string, force = false, timeoutMs?: number): Promise<VerifyReply> {
    return this.json("POST", "/content/verify", { json: { file, force }, timeoutMs });
  }

  /** Uploads bytes whose hash is not known yet; `commit` publishes them, `abort` drops them. */
  stage(id: string, body: Readable | Buffer, hashType?: HashType): Promise<StageReply> {
    const query = hashType ? `?hashType=${hashType}` : "";
    return this.json("PUT", `/content/stage/${encodeURIComponent(id)}${query}`, {
      body,
      headers: { "content-type": "application/octet-stream" },
    });
  }

  /**
   * One request per copy: streams bytes whose hash is not known yet, then ends with `order`, sent as a
   * trailer once it resolves: `<hash>.<ext>` keeps the copy under that name (the store checks the hash),
   * `abort` drops it. A rejected `order` abandons the request, and the store keeps nothing.
   */
  upload(id: string, body: Readable, hashType: HashType, order: Promise<string>): Promise<UploadReply> {
    return requestWithTrailer<UploadReply>({
      url: `${this.baseUrl}/content/stage/${encodeURIComponent(id)}?hashType=${hashType}`,
      method: "PUT",
      headers: {
        "content-type": "application/octet-stream",
        ...(this.authHeader ? { authorization: this.authHeader } : {}),
      },
      body,
      trailerName: COMMIT_TRAILER,
      trailer: order,
      timeoutMs: this.timeoutMs,
      name: this.name,
    });
  }

  commit(id: string, file: string): Promise<PutReply> {
    return this.json("POST", "/content/commit", { json: { id, file } });
  }

  abort(id: string): Promise<AbortReply> {
    return this.json("POST", "/content/abort", { json: { id } });
  }

  async ping(timeoutMs?: number): Promise<boolean> {
    const reply = await this.json<Partial<Pong>>("POST", "/ping", { timeoutMs });
    return reply.pong === "pong";
  }
}

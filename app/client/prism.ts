import { Readable } from "node:stream";
import type { ReadableStream as WebStream } from "node:stream/web";
import type { Static } from "@sinclair/typebox";
import type {
  ExistenceRecord,
  LogoutReply,
  PurchaseBody,
  PurchaseRecord,
  PurchaseRemoved,
  PurchaseUpdateBody,
  RetrieveBody,
  RetrieveReply,
  Session,
  UploadReply,
  ValidateReply,
  LoginReply,
} from "../contracts/prism.js";
import { type ClientOptions, type CallOptions, HttpClient } from "./http.js";

// Typed client for a prism's API, as OOSE clients use it: log in, then send
// the session token in X-OOSE-Token. Used by tests, benchmarks and tools.
// Requests and replies are typed by the prism's contract (app/contracts/prism.ts).

export interface UploadFile {
  field?: string;
  name: string;
  data: Blob | Buffer;
  type?: string;
}

export class PrismClient extends HttpClient {
  token?: string;

  constructor(opts: ClientOptions & { token?: string }) {
    super(opts);
    this.token = opts.token;
  }

  private withToken(opts: CallOptions = {}): CallOptions {
    return this.token ? { ...opts, headers: { ...opts.headers, "x-oose-token": this.token } } : opts;
  }

  private post<T>(path: string, json: unknown): Promise<T> {
    return this.json<T>("POST", path, this.withToken({ json }));
  }

  async login(username: string, password: string): Promise<Session> {
    const reply = await this.json<LoginReply>("POST", "/user/login", { json: { username, password } });
    this.token = reply.session.token;
    return reply.session;
  }

  logout(): Promise<LogoutReply> {
    return this.post("/user/logout", {});
  }

  validate(): Promise<ValidateReply> {
    return this.post("/user/session/validate", {});
  }

  renew(): Promise<LoginReply> {
    return this.post("/user/session/renew", {});
  }

  upload(files: UploadFile[], fields: Record<string, string> = {}): Promise<UploadReply> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    for (const f of files) {
      const blob = Buffer.isBuffer(f.data)
        ? new Blob([new Uint8Array(f.data)], { type: f.type ?? "application/octet-stream" })
        : f.data;
      form.append(f.field ?? "file", blob, f.name);
    }
    // Response encodes the multipart body (boundary included) as a stream, so big Blobs are never buffered.
    const encoded = new Response(form);
    return this.json(
      "POST",
      "/content/upload",
      this.withToken({
        body: Readable.fromWeb(encoded.body as WebStream),
        headers: { "content-type": encoded.headers.get("content-type")! },
      }),
    );
  }

  retrieve(url: string, extra: Omit<Static<typeof RetrieveBody>, "request"> = {}): Promise<RetrieveReply> {
    return this.post("/content/retrieve", { request: { url }, ...extra });
  }

  detail(hash: string): Promise<ExistenceRecord>;
  detail(hash: string[]): Promise<Record<string, ExistenceRecord>>;
  detail(hash: string | string[]): Promise<unknown> {
    return this.post("/content/detail", { hash });
  }

  exists(hash: string): Promise<ExistenceRecord>;
  exists(hash: string[]): Promise<Record<string, ExistenceRecord>>;
  exists(hash: string | string[]): Promise<unknown> {
    return this.post("/content/exists", { hash });
  }

  async download(hash: string): Promise<Buffer> {
    const res = await this.call("POST", "/content/download", this.withToken({ json: { hash } }));
    return Buffer.from(await res.body.arrayBuffer());
  }

  purchase(body: Static<typeof PurchaseBody>): Promise<PurchaseRecord> {
    return this.post("/content/purchase", body);
  }

  purchaseFind(token: string): Promise<PurchaseRecord> {
    return this.post("/content/purchase/find", { token });
  }

  purchaseUpdate(token: string, change: Omit<Static<typeof PurchaseUpdateBody>, "token">): Promise<PurchaseRecord> {
    return this.post("/content/purchase/update", { token, ...change });
  }

  purchaseRemove(token: string): Promise<PurchaseRemoved> {
    return this.post("/content/purchase/remove", { token });
  }

  /** The redirect a GET answers with (deliver or static); throws for anything but a 302. */
  async location(path: string, headers: Record<string, string> = {}): Promise<string> {
    const res = await this.call("GET", path, { headers });
    await res.body.dump();
    if (res.statusCode !== 302) throw new Error(`expected 302 from ${path}, got ${res.statusCode}`);
    return String(res.headers.location);
  }
}

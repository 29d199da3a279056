import { PassThrough, type Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { OoseError, transportError, UnauthorizedError } from "./errors.js";
import { multipart, type UploadFile } from "./multipart.js";
import { SessionClock, type SessionOptions } from "./session.js";
import { type Call, Transport, type TransportOptions } from "./transport.js";
import type {
  DeleteReply,
  ExistenceRecord,
  ListOptions,
  ListReply,
  LoginReply,
  LogoutReply,
  PurchaseChange,
  PurchaseRecord,
  PurchaseRemoved,
  PurchaseRequest,
  RetrieveOptions,
  RetrieveReply,
  Session,
  UploadReply,
  ValidateReply,
} from "./types.js";
import { type DeliveryQuery, deliveryUrl, staticUrl } from "./urls.js";

// A client of one prism (or of the front nginx before several). Log in, then
// every call carries the session's X-OOSE-Token; or give the prism's basic
// auth, which session routes accept too and private ones (exists) require.
// Calls that are safe to repeat are retried after a transport failure or a
// 503; uploads, logins and purchases are not.

export interface ClientOptions extends TransportOptions {
  /** The prism's basic auth (`auth.prism`). */
  auth?: { username: string; password: string };
  /** A session token from an earlier login. */
  token?: string;
  /** Where delivery and static URLs point, e.g. the front nginx. Default: baseUrl. */
  deliveryBaseUrl?: string;
  session?: SessionOptions;
}

export interface Progress {
  /** Bytes of the request body sent so far. */
  sent: number;
  /** The body's length: known from the start when every part's size is, else set when the upload is done. */
  total?: number;
}

export interface UploadOptions {
  /** Form fields, sent before the files (e.g. `hashType`). */
  fields?: Record<string, string>;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

/** A download's bytes keep failing as OoseErrors; destroying the stream stops the transfer. */
function relay(body: Dispatcher.ResponseData["body"], what: string): Readable {
  const out = new PassThrough();
  body.on("error", (err) => out.destroy(transportError(err, what)));
  out.on("close", () => body.destroy());
  return body.pipe(out);
}

export class PrismClient {
  readonly deliveryBaseUrl: string;
  token?: string;
  /** The session of the last login or renewal. */
  session?: Session;
  private readonly http: Transport;
  private readonly clock: SessionClock;
  private readonly basic?: string;

  constructor(opts: ClientOptions) {
    this.http = new Transport(opts);
    this.deliveryBaseUrl = (opts.deliveryBaseUrl ?? this.http.baseUrl).replace(/\/+$/, "");
    this.token = opts.token;
    this.clock = new SessionClock(opts.session ?? {}, () => this.renew());
    if (opts.auth)
      this.basic = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString("base64")}`;
  }

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /** When the session expires, as far as the client knows (ms since the epoch). */
  get expiresAt(): number | undefined {
    return this.clock.expiresAt;
  }

  private headers(): Record<string, string> {
    return {
      ...(this.basic ? { authorization: this.basic } : {}),
      ...(this.token ? { "x-oose-token": this.token } : {}),
    };
  }

  private async json<T>(call: Call): Promise<T> {
    const res = await this.http.send({ ...call, headers: { ...this.headers(), ...call.headers } });
    try {
      return (await res.body.json()) as T;
    } catch (err) {
      throw new OoseError("BAD_REPLY", res.statusCode, `${call.method} ${call.path}: unreadable answer`, {}, err);
    }
  }

  private post<T>(path: string, json: unknown, retry: boolean, signal?: AbortSignal): Promise<T> {
    return this.json<T>({ method: "POST", path, json, retry, signal });
  }

  async login(username: string, password: string): Promise<Session> {
    const sentAt = Date.now();
    const reply = await this.post<LoginReply>("/user/login", { username, password }, false);
    this.token = reply.session.token;
    this.session = reply.session;
    this.clock.started(sentAt);
    return reply.session;
  }

  /** Extends the session by the prism's session life. */
  async renew(): Promise<Session> {
    const sentAt = Date.now();
    const reply = await this.post<LoginReply>("/user/session/renew", {}, true);
    this.session = reply.session;
    this.clock.started(sentAt);
    return reply.session;
  }

  async logout(): Promise<LogoutReply> {
    try {
      const reply = await this.post<LogoutReply>("/user/logout", {}, false);
      this.forget();
      return reply;
    } catch (err) {
      // The prism no longer knows the session: it is over here too.
      if (err instanceof UnauthorizedError) this.forget();
      throw err;
    }
  }

  private forget(): void {
    this.clock.stop();
    this.token = undefined;
    this.session = undefined;
  }

  validate(): Promise<ValidateReply> {
    return this.post("/user/session/validate", {}, true);
  }

  /** One request, any number of files; never retried (its body streams once). */
  async upload(files: UploadFile[], opts: UploadOptions = {}): Promise<UploadReply> {
    const { form, length, streams } = await multipart(files, opts.fields ?? {});
    let sent = 0;
    const report = opts.onProgress;
    const reply = await this.json<UploadReply>({
      method: "POST",
      path: "/content/upload",
      body: form,
      headers: { ...form.getHeaders(), ...(length === undefined ? {} : { "content-length": String(length) }) },
      onSent:
        report &&
        ((bytes) => {
          sent += bytes;
          report({ sent, total: length });
        }),
      signal: opts.signal,
    }).catch((err) => {
      // A part not read to its end would keep its file open.
      for (const s of streams) s.destroy();
      throw err;
    });
    if (report && length === undefined) report({ sent, total: sent });
    return reply;
  }

  /** Has the prism import a file from a URL. */
  retrieve(url: string, opts: RetrieveOptions = {}): Promise<RetrieveReply> {
    return this.post("/content/retrieve", { request: { url }, ...opts }, false);
  }

  detail(hash: string): Promise<ExistenceRecord>;
  detail(hashes: string[]): Promise<Record<string, ExistenceRecord>>;
  detail(hash: string | string[]): Promise<unknown> {
    return this.post("/content/detail", { hash }, true);
  }

  /** The same answer as detail(), on the prism's private route (basic auth). */
  exists(hash: string): Promise<ExistenceRecord>;
  exists(hashes: string[]): Promise<Record<string, ExistenceRecord>>;
  exists(hash: string | string[]): Promise<unknown> {
    return this.post("/content/exists", { hash }, true);
  }

  /** The file's bytes as they arrive, never held whole. Retried only until the answer starts. */
  async download(hash: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    const path = "/content/download";
    const res = await this.http.send({
      method: "POST",
      path,
      json: { hash },
      headers: this.headers(),
      retry: true,
      signal: opts.signal,
    });
    return relay(res.body, `POST ${path}`);
  }

  /** The caller's uploads, newest first, a page at a time. */
  list(opts: ListOptions = {}): Promise<ListReply> {
    return this.post("/content/list", opts, true);
  }

  /** Deletes one of the caller's files: its bytes go once no other owner has it; an admin's delete takes it down. */
  remove(hash: string): Promise<DeleteReply> {
    return this.post("/content/delete", { hash }, false);
  }

  purchase(request: PurchaseRequest): Promise<PurchaseRecord> {
    return this.post("/content/purchase", request, false);
  }

  purchaseFind(token: string): Promise<PurchaseRecord> {
    return this.post("/content/purchase/find", { token }, true);
  }

  purchaseUpdate(token: string, change: PurchaseChange): Promise<PurchaseRecord> {
    return this.post("/content/purchase/update", { token, ...change }, true);
  }

  /** Removing twice is fine: the second answers `count: 0`. */
  purchaseRemove(token: string): Promise<PurchaseRemoved> {
    return this.post("/content/purchase/remove", { token }, true);
  }

  deliveryUrl(token: string, filename: string, query?: DeliveryQuery): string {
    return deliveryUrl(this.deliveryBaseUrl, token, filename, query);
  }

  staticUrl(hash: string, filename: string): string {
    return staticUrl(this.deliveryBaseUrl, hash, filename);
  }

  /** Where a delivery or static URL (or a path on the prism) redirects: a store's URL for the bytes. */
  async locate(url: string, opts: { referer?: string; signal?: AbortSignal } = {}): Promise<string> {
    const res = await this.http.send({
      method: "GET",
      path: url,
      headers: opts.referer ? { referer: opts.referer } : {},
      accept: [301, 302, 303, 307],
      retry: true,
      signal: opts.signal,
    });
    await res.body.dump();
    const location = res.headers.location;
    if (res.statusCode < 300 || typeof location !== "string") {
      throw new OoseError("NOT_REDIRECTED", res.statusCode, `GET ${url} answered ${res.statusCode}, not a redirect`);
    }
    return location;
  }

  /** Stops background renewal and closes the client's own connections. */
  async close(): Promise<void> {
    this.clock.stop();
    await this.http.close();
  }
}

import mime from "mime-types";
import type { InventoryDoc } from "../core/inventory.js";
import { isExpired } from "../core/purchase.js";
import { referrerAllowed } from "../core/referrer.js";
import { type DeliveryOptions, deliverySigner, deliveryUri, encodeAttachName } from "../core/signing.js";
import {
  AppError,
  ContentNotFound,
  PeerUnavailable,
  PurchaseExpired,
  PurchaseNotFound,
  ReferrerDenied,
} from "../errors.js";
import type { Counters } from "../http/stats.js";
import type { Logger } from "../log.js";
import type { StorePool } from "../routing/pool.js";
import type { Existence } from "./existence.js";
import { checkDisplayName, publicBase } from "./links.js";
import { readOrder } from "./read-order.js";
import { checkToken } from "../core/purchase.js";
import type { Purchases } from "./purchases.js";

// Where `GET /:token/:filename` sends the client: one Redis read at most (the
// purchase, usually from this prism's short-lived copy), the in-memory peer
// table and the existence cache; no CouchDB request unless the hash is not
// cached. Shared by the fastify route and the raw fast path in front of it.

export interface DeliveryRequest extends DeliveryOptions {
  token: string;
  filename: string;
  /** The client's `html5` (players use it): passed through, and no implicit start=0 for video. */
  html5?: string;
  referer: string | undefined;
  proto: "http" | "https";
}

export interface DeliveryDeps {
  purchases: Purchases;
  existence: Existence;
  pool: StorePool;
  counters: Counters;
  /** Told of every delivery (hash, store): the heat hot-content scaling reacts to. */
  onDelivered?: (hash: string, store: string) => void;
  domain: string;
  signingKey: string;
  /** Longest life of a signed link (ms); never past the purchase's expiry. */
  signedUrlLife: number;
  /** Where each delivery decision is logged (info), for the share `logSample` (0..1) of them. */
  log?: Logger;
  logSample?: number;
}

/** One line per logged decision: who was sent where. A token and a hash, never in a metric label. */
interface Decision {
  token: string;
  hash?: string;
  store?: string;
  status: number;
}

/** Video gets start=0 so nginx's mp4/flv module serves it (OOSE built `?null&start=0`). */
const isVideo = (ext: string) => mime.types[ext.toLowerCase()]?.startsWith("video/") ?? false;

export class Delivery {
  private readonly sign: ReturnType<typeof deliverySigner>;
  /** Each cached inventory doc's checked URI, built once rather than per request. */
  private readonly uris = new WeakMap<InventoryDoc, string>();

  /** Decisions logged: the sample rate, or 0 when the logger would drop info lines anyway. */
  private readonly logShare: number;

  constructor(private readonly d: DeliveryDeps) {
    this.sign = deliverySigner(d.signingKey);
    this.logShare = d.log?.isLevelEnabled("info") ? (d.logSample ?? 1) : 0;
  }

  /** The signed store URL to redirect to; AppErrors for every refusal. */
  locate(r: DeliveryRequest, now = Date.now()): Promise<string> {
    // A decision sampled out costs the draw, nothing more.
    if (this.logShare === 0 || (this.logShare < 1 && Math.random() >= this.logShare)) return this.decide(r, now);
    return this.logged(r, now);
  }

  private async logged(r: DeliveryRequest, now: number): Promise<string> {
    const decision: Decision = { token: r.token, status: 302 };
    try {
      return await this.decide(r, now, decision);
    } catch (err) {
      decision.status = err instanceof AppError ? err.status : 500;
      throw err;
    } finally {
      this.d.log?.info(decision, "delivery");
    }
  }

  private async decide(r: DeliveryRequest, now: number, decision?: Decision): Promise<string> {
    const token = checkToken(r.token);
    checkDisplayName(r.filename);
    const purchase = await this.d.purchases.get(token);
    if (!purchase) throw new PurchaseNotFound();
    if (decision) decision.hash = purchase.hash;
    if (isExpired(purchase, now)) throw new PurchaseExpired();
    if (!referrerAllowed(purchase.referrer, r.referer)) throw new ReferrerDenied();
    const copies = await this.d.existence.liveCopies(purchase.hash);
    // Holders whose nginx this prism has just seen die go last: a redirect there would fail.
    const pick = copies.length === 1 ? copies[0] : readOrder(copies, this.d.pool, "public")[0];
    if (!pick) {
      if ((await this.d.existence.copies(purchase.hash)).length === 0) throw new ContentNotFound();
      throw new PeerUnavailable("File not available");
    }
    const opts: DeliveryOptions = { token, attach: r.attach, start: r.start, rate: r.rate };
    if (opts.start === undefined && r.html5 === undefined && isVideo(purchase.ext)) opts.start = 0;
    const expires = Math.floor(Math.min(now + this.d.signedUrlLife, purchase.expirationDate) / 1000);
    if (decision) decision.store = pick.peer.name;
    this.d.counters.inc("stat:prism:content:deliver");
    this.d.onDelivered?.(purchase.hash, pick.peer.name);
    const url = this.sign(publicBase(pick.peer, this.d.domain, r.proto), this.uriOf(pick.copy), expires, opts);
    // OOSE passed the client's query through; html5 is the one key the signer does not carry.
    if (r.html5 === undefined) return url;
    return r.html5 ? `${url}&html5=${encodeAttachName(r.html5)}` : `${url}&html5`;
  }

  private uriOf(copy: InventoryDoc): string {
    let uri = this.uris.get(copy);
    if (uri === undefined) {
      uri = deliveryUri(copy.relativePath);
      this.uris.set(copy, uri);
    }
    return uri;
  }
}

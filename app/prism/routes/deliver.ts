import { Type as T } from "@sinclair/typebox";
import mime from "mime-types";
import { isExpired } from "../../core/purchase.js";
import { referrerAllowed } from "../../core/referrer.js";
import { type DeliveryOptions, signedDeliveryUrl } from "../../core/signing.js";
import { ContentNotFound, PeerUnavailable, PurchaseExpired, PurchaseNotFound, ReferrerDenied } from "../../errors.js";
import type { HotCounter } from "../../jobs/hot-counter.js";
import type { PrismContext } from "../context.js";
import { checkDisplayName, forwardedProto, publicBase, readOrder } from "../pick.js";
import { checkToken, type Purchases } from "../purchases.js";

// GET /:token/:filename, the hot path: one Redis read, the in-memory peer table
// and the existence cache; no CouchDB request unless the hash is not cached.
// Answers 302 to a live holder's nginx with a short-lived signed URL.

const Params = T.Object({ token: T.String({ maxLength: 200 }), filename: T.String({ maxLength: 255 }) });
const Query = T.Object(
  {
    attach: T.Optional(T.String({ maxLength: 255 })),
    start: T.Optional(T.Number({ minimum: 0 })),
    rate: T.Optional(T.Integer({ minimum: 1 })),
    html5: T.Optional(T.String()),
  },
  { additionalProperties: true },
);

export async function deliverRoutes(ctx: PrismContext, purchases: Purchases, hot?: HotCounter): Promise<void> {
  const { app, config, existence, pool } = ctx;

  app.get("/:token/:filename", { schema: { params: Params, querystring: Query } }, async (req, reply) => {
    const token = checkToken(req.params.token);
    checkDisplayName(req.params.filename);
    const purchase = await purchases.get(token);
    if (!purchase) throw new PurchaseNotFound();
    const now = Date.now();
    if (isExpired(purchase, now)) throw new PurchaseExpired();
    if (!referrerAllowed(purchase.referrer, req.headers.referer)) throw new ReferrerDenied();
    const copies = await existence.liveCopies(purchase.hash);
    // Holders whose nginx this prism has just seen die go last: a redirect there would fail.
    const [pick] = readOrder(copies, pool, "public");
    if (!pick) {
      if ((await existence.copies(purchase.hash)).length === 0) throw new ContentNotFound();
      throw new PeerUnavailable("File not available");
    }
    const opts: DeliveryOptions = { attach: req.query.attach, start: req.query.start, rate: req.query.rate };
    // Video gets start=0 so nginx's mp4/flv module serves it (OOSE built `?null&start=0`).
    const type = mime.lookup(purchase.ext) || "";
    if (type.startsWith("video/") && opts.start === undefined && req.query.html5 === undefined) opts.start = 0;
    const expires = Math.floor(Math.min(now + config.purchase.signedUrlLife, purchase.expirationDate) / 1000);
    const base = publicBase(pick.peer, config.domain, forwardedProto(req.headers, "http"));
    app.counters.inc("stat:prism:content:deliver");
    hot?.record(purchase.hash, pick.peer.name);
    return reply.redirect(signedDeliveryUrl(base, config.signingKey, pick.copy.relativePath, expires, opts), 302);
  });
}

import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import { DeliverQuery as Query, prismRoutes as routes } from "../../contracts/prism.js";
import { sendFailure } from "../../http/errors.js";
import type { RawRoute } from "../../http/node.js";
import { metricsState } from "../../metrics/index.js";
import { observeRequest } from "../../metrics/http.js";
import type { PrismContext } from "../context.js";
import type { Delivery, DeliveryRequest } from "../delivery.js";
import { forwardedProto } from "../links.js";

// GET /:token/:filename, the hot path: 302 to a live holder's nginx with a
// short-lived signed URL. Plain requests (most of a prism's traffic) are
// answered by `fastDeliver` before fastify routes them; anything it does not
// recognise (an encoded name, an odd query, HEAD) goes to the fastify route,
// whose schema gives the canonical answer, 400s included. Both call Delivery.

export const DELIVER_ROUTE = "/:token/:filename";

export function deliverRoutes(ctx: PrismContext, delivery: Delivery): void {
  ctx.app.get(DELIVER_ROUTE, { schema: routes.deliver }, async (req, reply) => {
    const { attach, start, rate, html5 } = req.query;
    const location = await delivery.locate({
      ...req.params,
      ...{ attach, start, rate, html5 },
      referer: req.headers.referer,
      proto: forwardedProto(req.headers, "http"),
    });
    return reply.redirect(location, 302);
  });
}

const PLAIN_PATH = /^\/([A-Za-z0-9]{64})\/([^/?%\\]{1,255})(?:\?(.*))?$/s;
const QUERY_KEYS = new Set(Object.keys(Query.properties));
const queryCheck = TypeCompiler.Compile(Query);
type Options = Pick<DeliveryRequest, "attach" | "start" | "rate" | "html5">;

/**
 * The query when the route's own schema takes it as it is: no known key repeats, no broken escape, and
 * no value that converting would change ("1.5" for an integer). Undefined sends it to the fastify route.
 */
function plainQuery(raw: string | undefined): Options | undefined {
  if (!raw) return {};
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return undefined;
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (!QUERY_KEYS.has(key)) continue;
    if (key in fields) return undefined;
    fields[key] = value;
  }
  const query = Value.Convert(Query, fields);
  if (!queryCheck.Check(query)) return undefined;
  const converted = query as Record<string, unknown>;
  if (Object.entries(fields).some(([key, value]) => String(converted[key]) !== value)) return undefined;
  return { attach: query.attach, start: query.start, rate: query.rate, html5: query.html5 };
}

/** Answers plain `GET /<token>/<name>` requests without fastify; returns false for anything else. */
export function fastDeliver(delivery: Delivery, ctx: Pick<PrismContext, "app" | "log">): RawRoute {
  return (req, res) => {
    if (req.method !== "GET") return false;
    const match = PLAIN_PATH.exec(req.url ?? "");
    const query = match && plainQuery(match[3]);
    if (!match || !query) return false;
    // Fastify's onResponse hook never sees these requests: they are timed here, as route "deliver".
    const started = metricsState.enabled ? performance.now() : 0;
    const answered = (status: number) => {
      ctx.app.counters.response("GET", DELIVER_ROUTE, status);
      if (started > 0) observeRequest(DELIVER_ROUTE, "GET", status, (performance.now() - started) / 1000);
    };
    delivery
      .locate({
        token: match[1]!,
        filename: match[2]!,
        ...query,
        referer: req.headers.referer,
        proto: forwardedProto(req.headers, "http"),
      })
      .then(
        (location) => {
          res.writeHead(302, { location, "content-length": 0 }).end();
          answered(302);
        },
        (err: unknown) => answered(sendFailure(ctx.log, res, err, req.url)),
      );
    return true;
  };
}

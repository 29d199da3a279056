import type { FastifyInstance } from "fastify";
import type { RecentError } from "../../contracts/console.js";

// The last failures (5xx) this prism answered, for the console's cluster view:
// what the client was told and on which route pattern, never the request's
// own URL (a delivery URL carries a purchase token) nor the cause (it is logged).

const KEPT = 50;

export class RecentErrors {
  private readonly kept: RecentError[] = [];

  /** Watches every route of `app` registered from now on. */
  watch(app: FastifyInstance): void {
    app.addHook("onSend", async (req, reply, payload) => {
      if (reply.statusCode >= 500 && typeof payload === "string") {
        const body = parse(payload);
        this.add({
          ...{ at: new Date().toISOString(), method: req.method, url: req.routeOptions.url ?? "(no route)" },
          ...{ status: reply.statusCode, code: body.code ?? "", error: body.error ?? "" },
        });
      }
      return payload;
    });
  }

  add(e: RecentError): void {
    this.kept.unshift(e);
    this.kept.length = Math.min(this.kept.length, KEPT);
  }

  /** Newest first. */
  list(): RecentError[] {
    return [...this.kept];
  }
}

function parse(payload: string): { code?: string; error?: string } {
  try {
    const body = JSON.parse(payload) as { code?: unknown; error?: unknown };
    return { code: String(body.code ?? ""), error: String(body.error ?? "") };
  } catch {
    return {};
  }
}

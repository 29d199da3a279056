import test from "ava";
import * as server from "../../app/errors.js";
import {
  BadRequestError,
  deliveryUrl,
  errorFromReply,
  ForbiddenError,
  GoneError,
  NotFoundError,
  OoseError,
  PayloadTooLargeError,
  ServerError,
  staticUrl,
  TimeoutError,
  TooManyRequestsError,
  TransportError,
  transportError,
  UnauthorizedError,
  UnavailableError,
} from "../../packages/client/src/index.js";

// The client's errors and URLs without a cluster: every error the prism can
// send (app/errors.ts) comes back with its code and status, in its status's class.

const CLASS_OF: Record<number, typeof OoseError> = {
  400: BadRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  410: GoneError,
  413: PayloadTooLargeError,
  429: TooManyRequestsError,
  503: UnavailableError,
};

const kinds = Object.values(server).filter(
  (k): k is typeof server.BadRequest => typeof k === "function" && "code" in k && "status" in k,
);

test("every server error keeps its code and status, in the class of its status", (t) => {
  t.true(kinds.length > 30, "the server's error table was read");
  for (const Kind of kinds) {
    const sent = new Kind(undefined, { retryAfter: 5 });
    const err = errorFromReply(Kind.status, JSON.stringify(sent.toJSON()), "POST /x");
    t.like(err, { code: Kind.code, status: Kind.status, message: sent.message, details: { retryAfter: 5 } }, Kind.code);
    const expected = CLASS_OF[Kind.status] ?? (Kind.status >= 500 ? ServerError : OoseError);
    t.true(err instanceof expected, `${Kind.code} is a ${expected.name}`);
  }
});

test("an answer that is not the error body still has a status and a code", (t) => {
  const err = errorFromReply(502, "<html>Bad Gateway</html>", "POST /content/upload");
  t.true(err instanceof ServerError);
  t.like(err, { code: "HTTP_502", status: 502 });
});

test("failures without an answer have status 0 and their own code", (t) => {
  const timeout = transportError(
    Object.assign(new Error("Headers Timeout Error"), { code: "UND_ERR_HEADERS_TIMEOUT" }),
    "x",
  );
  t.true(timeout instanceof TimeoutError);
  t.like(timeout, { code: "TIMEOUT", status: 0 });
  const refused = transportError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "x");
  t.true(refused instanceof TransportError && !(refused instanceof TimeoutError));
  t.like(refused, { code: "TRANSPORT_FAILED", status: 0 });
});

test("delivery and static URLs have OOSE's shapes", (t) => {
  t.is(deliveryUrl("https://front.example/", "tok", "clip.mp4"), "https://front.example/tok/clip.mp4");
  t.is(
    deliveryUrl("//cdn.example:5971", "tok", "my clip.mp4", {
      attach: "a b.mp4",
      start: 10,
      rate: 500_000,
      html5: "1",
    }),
    "//cdn.example:5971/tok/my%20clip.mp4?attach=a+b.mp4&start=10&rate=500000&html5=1",
  );
  t.is(deliveryUrl("https://p", "tok", "f.txt", { attach: undefined }), "https://p/tok/f.txt");
  t.is(staticUrl("https://p/", "ab12", "x y.txt"), "https://p/static/ab12/x%20y.txt");
});

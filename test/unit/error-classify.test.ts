import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import test from "ava";
import { couch } from "../../app/adapters/couch/index.js";
import { redisCall } from "../../app/adapters/redis/index.js";
import { StoreClient } from "../../app/client/store.js";
import { deniedExtensions } from "../../app/core/static-types.js";
import { AppError, ClientAborted, InvalidToken, PayloadTooLarge, PeerUnavailable } from "../../app/errors.js";
import { classify } from "../../app/http/errors.js";

// Each error is classified where it arises; the HTTP layer trusts only its own.

const couchError = (statusCode: number, reason: string) =>
  Object.assign(new Error(reason), { statusCode, error: "x", reason, scope: "couch" });
const rejects = (err: unknown) => () => Promise.reject(err);

test("classify: AppErrors and fastify's own 4xx keep their status; anything else is a 500", (t) => {
  t.is(classify(new InvalidToken()).status, 400);
  t.is(classify(Object.assign(new Error("bad"), { validation: [{}] })).code, "BAD_REQUEST");
  t.like(classify(Object.assign(new Error("bad json"), { code: "FST_ERR_CTP_INVALID_JSON_BODY", statusCode: 400 })), {
    status: 400,
    code: "CTP_INVALID_JSON_BODY",
  });
  t.like(classify(Object.assign(new Error("too big"), { code: "FST_REQ_FILE_TOO_LARGE", statusCode: 413 })), {
    status: 413,
  });
  // A status found on a library's error (nano, undici) says nothing about this request.
  for (const raw of [
    couchError(404, "missing"),
    Object.assign(new Error("Multipart: Boundary not found"), { statusCode: 400 }),
    Object.assign(new Error("x"), { code: "UND_ERR_SOCKET", statusCode: 404 }),
    Object.assign(new Error("plugin bug"), { code: "FST_ERR_SOMETHING", statusCode: 500 }),
    new TypeError("undefined is not a function"),
    "a string",
    undefined,
  ]) {
    t.is(classify(raw).status, 500, String((raw as Error)?.message ?? raw));
  }
  t.true(classify(Object.assign(new Error("aborted"), { code: "ECONNRESET" })) instanceof ClientAborted);
});

test("redisCall: the caller's own errors and bugs pass; Redis failures are a 503", async (t) => {
  await t.throwsAsync(redisCall("x", rejects(new InvalidToken())), { instanceOf: InvalidToken });
  await t.throwsAsync(redisCall("x", rejects(new TypeError("bug"))), { instanceOf: TypeError });
  for (const err of [new Error("Connection is closed."), new Error("Command timed out"), couchError(1, "READONLY")]) {
    const got = await t.throwsAsync(redisCall("x", rejects(err)));
    t.like(got, { status: 503, code: "BACKEND_UNAVAILABLE" });
  }
  t.is(await redisCall("x", async () => 7), 7);
});

test("couch: a missing database is a 503 with its code; a missing doc and a conflict are the caller's", async (t) => {
  for (const reason of ["Database does not exist.", "no_db_file"]) {
    const err = await t.throwsAsync(couch("x", rejects(couchError(404, reason))));
    t.like(err, { status: 503, code: "DATABASE_MISSING" }, reason);
  }
  for (const [status, reason] of [
    [404, "missing"],
    [404, "deleted"],
    [409, "Document update conflict."],
    [412, "The database could not be created, the file already exists."],
  ] as const) {
    const err = await t.throwsAsync(couch("x", rejects(couchError(status, reason))));
    t.false(err instanceof AppError, reason);
    t.is((err as { statusCode?: number }).statusCode, status);
  }
  const down = await t.throwsAsync(couch("x", rejects(Object.assign(new Error("connect"), { code: "ECONNREFUSED" }))));
  t.like(down, { status: 503, code: "BACKEND_UNAVAILABLE" });
  await t.throwsAsync(couch("x", rejects(new InvalidToken())), { instanceOf: InvalidToken });
});

async function sink(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    req.on("error", () => undefined);
    req.resume();
    req.on("end", () => res.writeHead(201, { "content-type": "application/json" }).end("{}"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A body that sends a little, then fails the way the prism's own upload guard fails it. */
const failingBody = (err: Error) =>
  new Readable({
    read() {
      this.push(Buffer.alloc(1024));
      setTimeout(() => this.destroy(err), 20);
    },
  });

test("HttpClient: our own upload body failing keeps its error; an unreachable store is PeerUnavailable", async (t) => {
  const server = await sink();
  try {
    const client = new StoreClient({ baseUrl: server.url, timeoutMs: 2000 });
    const tooLarge = await t.throwsAsync(client.put(`${"a".repeat(40)}.bin`, failingBody(new PayloadTooLarge())));
    t.true(tooLarge instanceof PayloadTooLarge, String(tooLarge));
    const abort = Object.assign(new Error("aborted"), { code: "ECONNRESET" });
    const aborted = await t.throwsAsync(client.put(`${"a".repeat(40)}.bin`, failingBody(abort)));
    t.true(aborted instanceof ClientAborted, String(aborted));
  } finally {
    server.close();
  }
  const gone = new StoreClient({ baseUrl: "http://127.0.0.1:1", timeoutMs: 1000 });
  await t.throwsAsync(gone.put(`${"a".repeat(40)}.bin`, Readable.from([Buffer.alloc(10)])), {
    instanceOf: PeerUnavailable,
  });
});

test("deniedExtensions expands MIME classes and refuses anything else", (t) => {
  const video = deniedExtensions(["video/*"]);
  for (const ext of ["mp4", "ogv", "3gp", "f4v", "mts", "m2ts", "vob", "webm"]) t.true(video.includes(ext), ext);
  t.false(video.includes("mp3"));
  t.deepEqual(deniedExtensions(["MP4", "mp4", "ape"]), ["mp4", "ape"]);
  for (const bad of ["mp4|.*", "video/mp4", "*/*", ".mp4", ""]) t.throws(() => deniedExtensions([bad]), undefined, bad);
});

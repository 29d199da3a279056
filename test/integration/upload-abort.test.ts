import { randomBytes } from "node:crypto";
import http from "node:http";
import test from "ava";
import { useCluster } from "../helpers/cluster.js";
import { partials, until } from "../helpers/fault.js";
import { loggedIn } from "../helpers/prism.js";

// Uploads that fail on the client's side: the client is told (4xx), the
// stores let go of what they got at once, and nothing is blamed on them.

const CLIENT_IDLE_MS = 1500;

const cluster = useCluster(test, {
  // Plain HTTP: the raw requests below need no TLS of their own.
  http: true,
  extraEnv: (node): Record<string, string> =>
    node.role === "prism" ? { OOSE_LIMITS__CLIENT_IDLE_MS: String(CLIENT_IDLE_MS) } : {},
});

const stores = () => cluster().info.stores.map((s) => s.name);
const leftovers = () => stores().reduce((n, s) => n + partials(cluster(), s).length, 0);

/** Starts a multipart upload, sends `bytes` of its file, then leaves the request open. */
function stalledUpload(url: string, token: string, bytes: number) {
  const boundary = `----oose${randomBytes(8).toString("hex")}`;
  const req = http.request(new URL("/content/upload", url), {
    method: "POST",
    headers: { "content-type": `multipart/form-data; boundary=${boundary}`, "x-oose-token": token },
  });
  const answer = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || "{}") }));
    });
    req.on("error", reject);
  });
  req.write(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="stall.bin"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n",
  );
  req.write(randomBytes(bytes));
  return { req, answer };
}

test.serial("a client that pauses mid-upload gets a 400, and the stores drop its stages", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const { req, answer } = stalledUpload(c.info.prisms[0]!.url, client.token!, 256 * 1024);
  const reply = await answer;
  req.destroy();
  t.is(reply.status, 400, JSON.stringify(reply.body));
  t.is(reply.body.code, "CLIENT_ABORTED");
  // Well before the stores' own idle limit (30 s): the prism gave the stages up itself.
  await until("stages dropped", async () => leftovers() === 0, 10_000, 100);
  const after = await client.upload([{ name: "after.bin", data: randomBytes(10_000) }]);
  t.is(after.files.file!.copies.length, 2);
});

test.serial("many clients dropping mid-upload pin no store connection and leave no stage", async (t) => {
  const c = cluster();
  const client = await loggedIn(c);
  const uploads = Array.from({ length: 40 }, (_, i) =>
    stalledUpload(c.info.prisms[i % 2]!.url, client.token!, 64 * 1024),
  );
  await until("stages open on the stores", async () => leftovers() > 0, 10_000, 20);
  for (const u of uploads) {
    u.answer.catch(() => undefined);
    u.req.destroy();
  }
  await until("stages dropped", async () => leftovers() === 0, 10_000, 100);
  // Every store still takes uploads at once: none was marked suspect, no connection is held.
  for (let i = 0; i < 8; i++) {
    const reply = await client.upload([{ name: `next-${i}.bin`, data: randomBytes(20_000) }]);
    t.is(reply.files.file!.copies.length, 2);
  }
  t.pass();
});

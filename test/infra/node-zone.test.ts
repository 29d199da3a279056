import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { execa } from "execa";
import { createCa, issueCert } from "../../infra/local/pki.js";

// The zone init container's script against a stand-in API server on loopback,
// over TLS checked against the service account's CA, with its bearer token.

const SCRIPT = fileURLToPath(new URL("../../infra/kubernetes/node-zone.mjs", import.meta.url));
const TOKEN = "service-account-token";
const NODES: Record<string, Record<string, string>> = {
  "node-a": { "topology.kubernetes.io/zone": "eu-west-1a", "kubernetes.io/hostname": "node-a" },
  "node-b": { "kubernetes.io/hostname": "node-b" },
};

let port: number;
let saDir: string;
let server: ReturnType<typeof createServer> | undefined;
test.before(async () => {
  const ca = await createCa();
  const cert = await issueCert(ca, "kubernetes", ["127.0.0.1"]);
  saDir = mkdtempSync(path.join(tmpdir(), "oose-sa-"));
  writeFileSync(path.join(saDir, "token"), `${TOKEN}\n`);
  writeFileSync(path.join(saDir, "ca.crt"), ca.cert);
  server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(req.url ?? "")?.[1];
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end();
    const labels = node ? NODES[decodeURIComponent(node)] : undefined;
    if (!labels) return res.writeHead(404).end('{"kind":"Status"}');
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ metadata: { labels } }));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
test.after.always(() => server?.close());

const run = (node: string, out: string) =>
  execa("node", [SCRIPT, out], {
    reject: false,
    env: {
      NODE_NAME: node,
      SA_DIR: saDir,
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: String(port),
    },
  });

test("writes the node's zone label as the app's config file", async (t) => {
  const out = path.join(saDir, "a.json");
  const r = await run("node-a", out);
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(JSON.parse(readFileSync(out, "utf8")), { zone: "eu-west-1a" });
});

test("a node without the label, or an unknown node, fails the pod's start", async (t) => {
  const unlabelled = await run("node-b", path.join(saDir, "b.json"));
  t.not(unlabelled.exitCode, 0);
  t.regex(unlabelled.stderr, /has no topology\.kubernetes\.io\/zone label/);
  const unknown = await run("node-c", path.join(saDir, "c.json"));
  t.not(unknown.exitCode, 0);
  t.regex(unknown.stderr, /GET node node-c: 404/);
});

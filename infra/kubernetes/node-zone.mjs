// The zone init container, run with the app image's node: reads this pod's
// node from the API server with the pod's service account and writes
// {"zone": <topology.kubernetes.io/zone>} to the file named by argv[2], which
// the app reads as OOSE_CONFIG. A node without the label fails the pod's
// start, so no store ever runs in a made-up zone.
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";

const SA = process.env.SA_DIR ?? "/var/run/secrets/kubernetes.io/serviceaccount";
const LABEL = "topology.kubernetes.io/zone";
const [, , out] = process.argv;
const node = process.env.NODE_NAME;
if (!out || !node) throw new Error("usage: NODE_NAME=<node> node node-zone.mjs <file>");

const host = process.env.KUBERNETES_SERVICE_HOST;
const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
const body = await new Promise((resolve, reject) => {
  const req = request(
    {
      host,
      port,
      path: `/api/v1/nodes/${encodeURIComponent(node)}`,
      ca: readFileSync(`${SA}/ca.crt`),
      headers: { authorization: `Bearer ${readFileSync(`${SA}/token`, "utf8").trim()}` },
      timeout: 10_000,
    },
    (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => {
        text += c;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(text) : reject(new Error(`GET node ${node}: ${res.statusCode} ${text}`)),
      );
    },
  );
  req.on("timeout", () => req.destroy(new Error("the API server did not answer in 10 s")));
  req.on("error", reject);
  req.end();
});
const zone = JSON.parse(body).metadata?.labels?.[LABEL];
if (!zone) throw new Error(`node ${node} has no ${LABEL} label: label it, or set the zone in the stack config`);
writeFileSync(out, `${JSON.stringify({ zone })}\n`);
process.stdout.write(`zone ${zone} (node ${node})\n`);

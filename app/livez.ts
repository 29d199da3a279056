import { readFileSync } from "node:fs";
import { request as http } from "node:http";
import { request as https } from "node:https";

// The container's health check (the image's HEALTHCHECK, the Pulumi
// containers'): GET /livez on this node, over HTTPS and verified against the
// cluster CA when the node has a certificate. Liveness only: a CouchDB or Redis
// outage must not mark every node unhealthy. Exits 0 when live, 1 otherwise.

const env = process.env;
const port = Number(env.OOSE_LISTEN__PORT ?? (env.OOSE_ROLE === "store" ? 5972 : 5971));
const secure = Boolean(env.OOSE_TLS__PEM || env.OOSE_TLS__CERT);
const options = {
  host: "127.0.0.1",
  port,
  path: "/livez",
  timeout: 4000,
  // Node certificates carry 127.0.0.1; without a cluster CA the system's apply.
  ...(secure && env.OOSE_TLS__CA ? { ca: readFileSync(env.OOSE_TLS__CA, "utf8") } : {}),
};
const req = (secure ? https : http)(options, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on("timeout", () => req.destroy(new Error("timed out")));
req.on("error", () => process.exit(1));
req.end();

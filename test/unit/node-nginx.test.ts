import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { createCa } from "../../infra/local/pki.js";
import { renderFrontNginx } from "../../nginx/front.js";
import { renderStoreNginx } from "../../nginx/store.js";

// The configs the Pulumi program renders for its nginx containers: the front
// verifying HTTPS prisms against the cluster CA, and every nginx with the
// loopback /livez its container health check asks. Both pass nginx -t.

const HEALTH = { port: 8099 };

test("the front over HTTPS prisms and the store nginx, each with its health server, pass nginx -t", async (t) => {
  const prefix = mkdtempSync(path.join(tmpdir(), "oose-node-nginx-"));
  try {
    for (const d of ["conf", "logs", "temp", "content"]) mkdirSync(path.join(prefix, d));
    const ca = path.join(prefix, "ca.crt");
    writeFileSync(ca, (await createCa()).cert);
    const front = renderFrontNginx({
      listen: { host: "0.0.0.0", port: 8080 },
      prisms: [
        { host: "127.0.0.1", port: 5971 },
        { host: "127.0.0.1", port: 5972 },
      ],
      upstreamTls: { ca, name: "prisms.oose.internal" },
      health: HEALTH,
    });
    const store = renderStoreNginx({
      name: "store1",
      listen: { host: "0.0.0.0", port: 8081 },
      contentRoot: path.join(prefix, "content"),
      signingKey: "test-signing-key-0123456789",
      denyStaticTypes: [],
      health: HEALTH,
    });
    for (const [name, conf] of Object.entries({ front, store })) {
      t.regex(conf, /server \{\n\s+listen 127\.0\.0\.1:8099;\n\s+access_log off;\n\s+location = \/livez \{/, name);
      const file = path.join(prefix, "conf", `${name}.conf`);
      writeFileSync(file, conf);
      t.notThrows(() => execFileSync("nginx", ["-t", "-q", "-p", prefix, "-c", file], { stdio: "pipe" }), name);
    }
    t.regex(front, /proxy_ssl_verify on;/);
    t.throws(() =>
      renderStoreNginx({
        ...{ name: "s", listen: { host: "0.0.0.0", port: 1 } },
        contentRoot: "/x",
        signingKey: "k".repeat(20),
        denyStaticTypes: [],
        health: { port: 0 },
      }),
    );
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});

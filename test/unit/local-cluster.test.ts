import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { SIGNING_KEY_PATTERN } from "../../app/core/signing.js";
import { defaultSpec, nodesOf } from "../../app/topology/model.js";
import { localAddressing, localPorts, neededPorts } from "../../infra/local/addressing.js";
import { loadOrCreateSecrets } from "../../infra/local/secrets.js";
import { renderFrontNginx } from "../../nginx/front.js";

test("local ports follow the documented layout and never collide", (t) => {
  const spec = defaultSpec(3, 2);
  const at = localAddressing(spec, 20000, "data");
  const ports = at.ports;
  t.is(ports.front, 20000);
  t.is(ports.couchdb, 20001);
  t.is(ports.redisPrimary, 20002);
  t.deepEqual(ports.redisReplicas, [20003]);
  t.deepEqual(ports.sentinels, [20004, 20005, 20006]);
  t.deepEqual(
    spec.prisms.map((p) => ports.api.get(p.name)),
    [20010, 20011, 20012],
  );
  t.deepEqual(
    spec.stores.map((s) => ports.api.get(s.name)),
    [20040, 20041, 20042, 20043, 20044, 20045],
  );
  t.deepEqual(
    spec.stores.map((s) => at.publicUrl({ ...s, role: "store" })),
    [20070, 20071, 20072, 20073, 20074, 20075].map((p) => `http://127.0.0.1:${p}`),
  );
  t.is(at.dataRoot(nodesOf(spec)[0]!), path.resolve("data", "prism1"));
  const all = neededPorts(spec, ports, true).map(([p]) => p);
  t.is(new Set(all).size, all.length);
  t.is(all.length, 1 + 1 + 1 + 1 + 3 + 3 + 6 + 6);
  t.false(
    neededPorts(spec, ports, false).some(([, what]) => what === "couchdb"),
    "an external CouchDB needs no local port",
  );
  t.throws(() => localPorts(defaultSpec(31, 1), 20000), { message: /room for 30 prisms/ });
  t.throws(() => localPorts(defaultSpec(), 65500), { message: /no room/ });
});

test("secrets are generated once, kept with mode 0600 and usable as a signing key", (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-secrets-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = loadOrCreateSecrets(dir);
  t.is(statSync(path.join(dir, "secrets.json")).mode & 0o777, 0o600);
  t.regex(first.signingKey, SIGNING_KEY_PATTERN);
  t.not(first.prismAuth.password, first.storeAuth.password);
  t.deepEqual(loadOrCreateSecrets(dir), first);
});

test("front nginx: every prism upstream, streaming, safe retries, no cache, local-only status", (t) => {
  const conf = renderFrontNginx({
    listen: { host: "127.0.0.1", port: 8080 },
    prisms: [
      { host: "127.0.0.1", port: 5001 },
      { host: "127.0.0.1", port: 5002 },
    ],
  });
  const has = (line: string) => t.true(conf.includes(line), line);
  has("server 127.0.0.1:5001");
  has("server 127.0.0.1:5002");
  has("keepalive 32;");
  has("listen 127.0.0.1:8080;");
  has("proxy_http_version 1.1;");
  has("proxy_next_upstream error timeout http_502 http_503 http_504;");
  has("client_max_body_size 0;");
  has("proxy_request_buffering off;");
  has("proxy_buffering off;");
  has("proxy_set_header Host $host;");
  has("proxy_set_header X-Real-IP $remote_addr;");
  has("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;");
  has("proxy_set_header X-Forwarded-Proto $scheme;");
  has("proxy_set_header X-Forwarded-Protocol $scheme;");
  has("allow 127.0.0.1;");
  t.regex(conf, /location = \/nginx_status \{\s*stub_status;\s*allow 127\.0\.0\.1;\s*deny all;/);
  t.false(conf.includes("non_idempotent"));
  t.false(conf.includes("proxy_cache"));
  for (const temp of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) has(`${temp}_temp_path temp/`);

  const tls = renderFrontNginx({
    listen: { host: "0.0.0.0", port: 443 },
    prisms: [{ host: "prism1", port: 5971 }],
    tls: { cert: "/etc/oose/cert.pem", key: "/etc/oose/key.pem" },
  });
  t.true(tls.includes("listen 0.0.0.0:443 ssl;"));
  t.true(tls.includes("ssl_certificate /etc/oose/cert.pem;"));
  t.true(tls.includes("ssl_certificate_key /etc/oose/key.pem;"));
  t.true(tls.includes("proxy_pass http://prisms;"), "plain HTTP to the prisms unless told otherwise");
  const verified = renderFrontNginx({
    listen: { host: "0.0.0.0", port: 443 },
    prisms: [{ host: "prism1", port: 5971 }],
    upstreamTls: { ca: "/etc/oose/ca.crt", name: "localhost" },
  });
  for (const line of [
    "proxy_pass https://prisms;",
    "proxy_ssl_verify on;",
    "proxy_ssl_trusted_certificate /etc/oose/ca.crt;",
    "proxy_ssl_name localhost;",
  ])
    t.true(verified.includes(line), line);
  t.throws(() =>
    renderFrontNginx({ listen: { host: "0.0.0.0", port: 443 }, prisms: [{ host: "p", port: 1 }], upstreamTls: { ca: "ca;x", name: "n" } }),
  );
  t.throws(() => renderFrontNginx({ listen: { host: "127.0.0.1", port: 1 }, prisms: [] }));
});

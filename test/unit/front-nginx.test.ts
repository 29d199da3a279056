import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { renderFrontNginx } from "../../nginx/front.js";

// The front nginx's rendered config: what it retries, what takes a prism out of rotation, and how it streams.

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
  has("proxy_next_upstream error timeout invalid_header;");
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

const TWO_PRISMS = {
  listen: { host: "127.0.0.1", port: 8080 },
  prisms: [
    { host: "127.0.0.1", port: 5001 },
    { host: "127.0.0.1", port: 5002 },
  ],
};

test("a prism's own answer, 5xx included, never takes it out of rotation; only not answering does", (t) => {
  const conf = renderFrontNginx(TWO_PRISMS);
  const retries = /proxy_next_upstream ([^;]+);/.exec(conf)?.[1] ?? "";
  t.notRegex(retries, /http_/, "no status a prism answers counts as its failure");
  for (const port of [5001, 5002]) {
    t.true(conf.includes(`server 127.0.0.1:${port} max_fails=1 fail_timeout=5s;`), `${port} in rotation`);
    t.true(conf.includes(`server 127.0.0.1:${port} backup max_fails=0;`), `${port} as a backup that never leaves`);
  }
  // Backups come after every primary: nginx tries them only once every primary is out.
  t.true(conf.lastIndexOf("fail_timeout=5s;") < conf.indexOf("backup"));
});

test("the rendered front config passes nginx -t", (t) => {
  const prefix = mkdtempSync(path.join(tmpdir(), "oose-front-t-"));
  try {
    for (const d of ["conf", "logs", "temp"]) mkdirSync(path.join(prefix, d));
    const file = path.join(prefix, "conf", "front.conf");
    writeFileSync(file, renderFrontNginx(TWO_PRISMS));
    t.notThrows(() => execFileSync("nginx", ["-t", "-q", "-p", prefix, "-c", file], { stdio: "pipe" }));
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});

import { renderNginx } from "./common.js";

// The front nginx: one address in front of every prism. It streams both ways
// (uploads can be terabytes), retries only where it is safe, and caches
// nothing: OOSE cached the prism's 302s without the Referer in the key, which
// handed one buyer's redirect to everyone.
//
// Only a prism that does not answer (refused, reset, timed out) leaves the
// rotation. A 5xx a prism answers speaks of a shared backend, a store or a
// remote server, the same from every prism: counting it took every prism out
// at once when Redis failed over. The prisms are listed again as backups that
// never leave, so every prism failing once is never "no live upstreams".

export interface FrontNginx {
  listen: { host: string; port: number };
  prisms: { host: string; port: number }[];
  tls?: { cert: string; key: string };
  /**
   * The prisms speak HTTPS: verify them against `ca` (the cluster CA), for the
   * name `name` (one every prism certificate carries, e.g. localhost locally).
   */
  upstreamTls?: { ca: string; name: string };
  /** The loopback /livez for the container's health check. */
  health?: { port: number };
}

function checkPaths(o: FrontNginx): void {
  for (const p of [o.tls?.cert, o.tls?.key, o.upstreamTls?.ca]) {
    if (p !== undefined && (!p.startsWith("/") || /["'$;{}\\\s]/.test(p)))
      throw new Error(`front nginx: bad path ${p}`);
  }
  if (o.upstreamTls && !/^[A-Za-z0-9.:-]+$/.test(o.upstreamTls.name))
    throw new Error(`front nginx: bad upstream name ${o.upstreamTls.name}`);
}

export function renderFrontNginx(o: FrontNginx): string {
  if (o.prisms.length === 0) throw new Error("front nginx needs at least one prism");
  checkPaths(o);
  const servers = [
    ...o.prisms.map((p) => `  server ${p.host}:${p.port} max_fails=1 fail_timeout=5s;`),
    ...o.prisms.map((p) => `  server ${p.host}:${p.port} backup max_fails=0;`),
  ].join("\n");
  const listen = `${o.listen.host}:${o.listen.port}${o.tls ? " ssl" : ""}`;
  const tls = o.tls ? `\n  ssl_certificate ${o.tls.cert};\n  ssl_certificate_key ${o.tls.key};` : "";
  const up = o.upstreamTls;
  const upstream = up
    ? `proxy_pass https://prisms;
    proxy_ssl_verify on;
    proxy_ssl_verify_depth 2;
    proxy_ssl_trusted_certificate ${up.ca};
    proxy_ssl_name ${up.name};
    proxy_ssl_server_name on;
    proxy_ssl_session_reuse on;`
    : "proxy_pass http://prisms;";
  return renderNginx({
    health: o.health,
    http: `upstream prisms {
${servers}
  keepalive 32;
}`,
    servers: `server {
  listen ${listen};${tls}
  client_max_body_size 0;
  proxy_request_buffering off;
  proxy_buffering off;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $host;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header X-Forwarded-Protocol $scheme;
  # A request is tried on the next prism only when the first never answered
  # properly, and POST/PUT/DELETE are never replayed.
  proxy_next_upstream error timeout invalid_header;
  proxy_connect_timeout 5s;
  proxy_read_timeout 1h;
  proxy_send_timeout 1h;
  location = /nginx_status {
    stub_status;
    allow 127.0.0.1;
    deny all;
  }
  location / {
    ${upstream}
  }
}`,
  });
}

// The parts every OOSE nginx config shares. Paths are relative to the `-p`
// prefix, so one rendered config runs as a local process or in a container.

export interface NginxBase {
  workerProcesses?: number | "auto";
  workerConnections?: number;
  /** Extra `http {}` directives (zones, upstreams) placed before the servers. */
  http: string;
  servers: string;
  /** A plain-HTTP /livez on 127.0.0.1 only, for the container's health check (TLS or not on the real port). */
  health?: { port: number };
}

/** The container health check's server: loopback only, nothing logged, nothing else served. */
function healthServer(port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`nginx: bad health port ${port}`);
  return `
server {
  listen 127.0.0.1:${port};
  access_log off;
  location = /livez {
    default_type text/plain;
    return 200 "ok\n";
  }
  location / {
    return 404;
  }
}`;
}

export function renderNginx(o: NginxBase): string {
  return `# Rendered by OOSE; edit the template, not this file.
worker_processes ${o.workerProcesses ?? "auto"};
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections ${o.workerConnections ?? 4096}; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  server_tokens off;
  client_body_temp_path temp/body;
  proxy_temp_path temp/proxy;
  fastcgi_temp_path temp/fastcgi;
  uwsgi_temp_path temp/uwsgi;
  scgi_temp_path temp/scgi;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65s;
${indent(o.http)}
${indent(o.servers + (o.health ? healthServer(o.health.port) : ""))}
}
`;
}

export const indent = (s: string, by = "  ") =>
  s
    .split("\n")
    .map((l) => (l.trim() ? by + l : l))
    .join("\n");

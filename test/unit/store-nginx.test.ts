import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { pino } from "pino";
import { request } from "undici";
import { ConfigSchema } from "../../app/config.js";
import { HASH_TYPES } from "../../app/core/hash.js";
import { relativePath } from "../../app/core/layout.js";
import { deniedExtensions } from "../../app/core/static-types.js";
import { DISK_HEALTH_FILE, DISK_HEALTH_PATH, DiskHealthWriter } from "../../app/jobs/disk-health.js";
import { diskProblem } from "../../app/jobs/probe.js";
import { freePort } from "../../infra/local/proc.js";
import { startNginx } from "../../infra/local/services.js";
import { atMostPattern, renderStoreNginx, type StoreNginxOptions } from "../../nginx/store.js";

const BASE: StoreNginxOptions = {
  name: "store1",
  listen: { host: "127.0.0.1", port: 18080 },
  contentRoot: "/var/lib/oose/store1/content",
  signingKey: "test-signing-key-0123456789",
  denyStaticTypes: ["mp4", "MKV", "mp3"],
};

const DEFAULT_DENY: string[] = ConfigSchema.properties.denyStaticTypes.default;

/** The extensions a rendered config's /static/ location refuses. */
function staticDenied(conf: string): string[] {
  const m = /location \/static\/ \{[^}]*location ~\* "\\\.\(\?:([a-z0-9|]+)\)\$" \{ return 403; \}/.exec(conf);
  return m ? m[1]!.split("|") : [];
}

test("the default deny list covers every audio and video type, as the prism expands it", (t) => {
  const denied = staticDenied(renderStoreNginx({ ...BASE, denyStaticTypes: DEFAULT_DENY }));
  t.deepEqual(denied, deniedExtensions(DEFAULT_DENY));
  for (const ext of "mp4 mkv webm ogv m4a wav opus wma 3gp mka m4b f4v mts m2ts vob aiff flac mp3 avi mov ape dv".split(
    " ",
  ))
    t.true(denied.includes(ext), ext);
  for (const ext of ["txt", "jpg", "png", "pdf", "html", "bin"]) t.false(denied.includes(ext), ext);
});

test("MIME classes and extensions mix; case does not matter", (t) => {
  const denied = staticDenied(renderStoreNginx({ ...BASE, denyStaticTypes: ["audio/*", "MKV"] }));
  t.true(denied.includes("mkv"));
  t.true(denied.includes("opus"));
  t.false(denied.includes("mp4"));
  t.throws(() => renderStoreNginx({ ...BASE, denyStaticTypes: ["video/mp4"] }));
  t.throws(() => renderStoreNginx({ ...BASE, denyStaticTypes: ["*/*"] }));
});

test("atMostPattern matches exactly the integers 1..n, without leading zeros", (t) => {
  for (const n of [1, 5, 9, 10, 11, 99, 100, 101, 109, 110, 199, 200, 999, 1000, 1024, 1234, 2048]) {
    const re = new RegExp(`^(?:${atMostPattern(n)})$`);
    for (let k = 0; k <= n * 2 + 20; k++) t.is(re.test(String(k)), k >= 1 && k <= n, `n=${n} k=${k}`);
    t.false(re.test("01"));
    t.false(re.test(""));
  }
  const cap = 1_048_576;
  const re = new RegExp(`^(?:${atMostPattern(cap)})$`);
  for (const k of [1, 65_536, 1_048_575, 1_048_576]) t.true(re.test(String(k)), String(k));
  for (const k of [0, 1_048_577, 1_049_000, 9_999_999, 10_000_000, 99_999_999_999])
    t.false(re.test(String(k)), String(k));
  t.throws(() => atMostPattern(0));
});

test("the rendered config passes nginx -t", (t) => {
  const prefix = mkdtempSync(path.join(tmpdir(), "oose-nginx-t-"));
  try {
    for (const d of ["conf", "logs", "temp", "content"]) mkdirSync(path.join(prefix, d));
    for (const [name, o] of Object.entries({
      plain: { ...BASE, contentRoot: path.join(prefix, "content") },
      defaults: { ...BASE, contentRoot: path.join(prefix, "content"), denyStaticTypes: DEFAULT_DENY },
      logged: { ...BASE, contentRoot: path.join(prefix, "content"), accessLogDir: path.join(prefix, "access") },
      tuned: {
        ...BASE,
        contentRoot: path.join(prefix, "content"),
        denyStaticTypes: [],
        rate: { fastBytes: 65_536, bytesPerSecond: 262_144, requestsPerSecond: 5, burst: 10 },
      },
    })) {
      const file = path.join(prefix, "conf", `${name}.conf`);
      writeFileSync(file, renderStoreNginx(o));
      t.notThrows(() => execFileSync("nginx", ["-t", "-q", "-p", prefix, "-c", file], { stdio: "pipe" }), name);
    }
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});

test("the config carries the delivery rules", (t) => {
  const conf = renderStoreNginx(BASE);
  t.regex(conf, /secure_link \$arg_md5,\$arg_expires;/);
  t.regex(conf, /secure_link_md5 "\$secure_link_expires\$uri test-signing-key-0123456789";/);
  t.regex(conf, /if \(\$secure_link = ""\) \{ return 403; \}/);
  t.regex(conf, /if \(\$secure_link = "0"\) \{ return 410; \}/);
  t.regex(conf, /location ~\* "\\\.\(\?:mp4\|mkv\|mp3\)\$" \{ return 403; \}/);
  t.regex(conf, /limit_rate_after 10485760;/);
  t.regex(conf, /limit_rate \$oose_rate;/);
  t.regex(conf, /default 1048576;/);
  t.regex(conf, /add_header X-Peer "store1" always;/);
  t.regex(conf, /autoindex off;/);
  t.regex(conf, /location = \/nginx_status \{\s+stub_status;\s+allow 127\.0\.0\.1;\s+allow ::1;\s+deny all;/);
  // Every signed location checks the link itself: nested locations do not inherit `if`.
  t.is(conf.match(/\$secure_link = ""/g)?.length, 3);
  t.notRegex(conf, /autoindex on/);
});

test("the access log: a JSON line per request in a file per day; probes and stub_status are not logged", (t) => {
  t.notRegex(renderStoreNginx(BASE), /access_log "/, "no folder, no access log");
  const conf = renderStoreNginx({ ...BASE, accessLogDir: "/var/log/oose" });
  t.regex(conf, /access_log "\/var\/log\/oose\/access-\$oose_log_day\.log" oose_json;/);
  t.regex(conf, /log_format oose_json escape=json '\{"time":"\$time_iso8601","store":"store1",/);
  for (const f of ["client", "token", "hash", "status", "bytes", "referer", "user_agent", "request_time"])
    t.regex(conf, new RegExp(`"${f}":`), f);
  // Variables in a log path need the location's root to exist: the server's is the content folder.
  t.regex(conf, /root "\/var\/lib\/oose\/store1\/content";/);
  t.regex(conf, /location = \/healthz\/disk \{\s+access_log off;/);
  t.regex(conf, /location = \/nginx_status \{\s+access_log off;/);
  t.throws(() => renderStoreNginx({ ...BASE, accessLogDir: "/var/log/$uri" }));
  t.throws(() => renderStoreNginx({ ...BASE, accessLogDir: "logs" }));
});

test("the hash map turns every hash type's layout path back into its hash, and nothing else", (t) => {
  const conf = renderStoreNginx({ ...BASE, accessLogDir: "/var/log/oose" });
  const lines = conf.split("\n").map((l) => l.trim());
  const start = lines.indexOf("map $uri $oose_hash {");
  const block = lines.slice(start + 1, lines.indexOf("}", start));
  const entries = block.flatMap((l) => {
    const m = /^"~(.+)" "(.+)";$/.exec(l);
    return m ? [{ re: new RegExp(m[1]!), value: m[2]! }] : [];
  });
  t.is(entries.length, Object.keys(HASH_TYPES).length);
  // What nginx does: the first regex that matches, its named captures substituted into the value.
  const hashOf = (uri: string) => {
    for (const e of entries) {
      const g = e.re.exec(uri)?.groups;
      if (g) return e.value.replace(/\$(oose_h\d+)/g, (_, n: string) => g[n]!);
    }
    return "";
  };
  for (const [type, len] of Object.entries(HASH_TYPES)) {
    const hash = createHash(type).update("x").digest("hex");
    t.is(hash.length, len);
    t.is(hashOf(`/c/${relativePath(hash, "mp4")}`), hash, type);
    t.is(hashOf(`/static/${relativePath(hash, "txt")}`), hash, type);
    t.is(hashOf(`/c/${relativePath(hash, "mp4")}/x`), "", type);
  }
  t.is(hashOf("/"), "");
  t.is(hashOf("/c/ab/cd.txt"), "");
});

test("TLS adds ssl to listen and the certificate paths", (t) => {
  const conf = renderStoreNginx({ ...BASE, tls: { cert: "/etc/oose/tls.crt", key: "/etc/oose/tls.key" } });
  t.regex(conf, /listen 127\.0\.0\.1:18080 ssl default_server;/);
  t.regex(conf, /ssl_certificate "\/etc\/oose\/tls\.crt";/);
  t.regex(conf, /ssl_certificate_key "\/etc\/oose\/tls\.key";/);
});

test("inputs that could break out of nginx syntax are refused", (t) => {
  t.throws(() => renderStoreNginx({ ...BASE, signingKey: 'key"; return 200; #xxxxxxxx' }));
  t.throws(() => renderStoreNginx({ ...BASE, signingKey: "key$uri-0123456789" }));
  t.throws(() => renderStoreNginx({ ...BASE, contentRoot: "relative/content" }));
  t.throws(() => renderStoreNginx({ ...BASE, contentRoot: "/srv/a b" }));
  t.throws(() => renderStoreNginx({ ...BASE, contentRoot: "/srv/x;" }));
  t.throws(() => renderStoreNginx({ ...BASE, name: "Store_1" }));
  t.throws(() => renderStoreNginx({ ...BASE, denyStaticTypes: ["mp4|.*"] }));
  t.throws(() => renderStoreNginx({ ...BASE, rate: { bytesPerSecond: 0 } }));
  t.throws(() => renderStoreNginx({ ...BASE, listen: { host: "127.0.0.1; evil", port: 80 } }));
});

test("the disk health location reads the node's file beside the content, with no file cache", (t) => {
  const conf = renderStoreNginx(BASE);
  t.regex(
    conf,
    /location = \/healthz\/disk \{\s+open_file_cache off;\s+default_type text\/plain;\s+alias "\/var\/lib\/oose\/store1\/health\/disk";\s+\}/,
  );
  t.is(DISK_HEALTH_PATH, "/healthz/disk");
});

test("nginx serves the health file fresh, and fails the probe once it cannot read it", async (t) => {
  const prefix = mkdtempSync(path.join(tmpdir(), "oose-nginx-health-"));
  // nginx workers run as nobody when the tests run as root: they must reach the data root.
  chmodSync(prefix, 0o755);
  const dataRoot = path.join(prefix, "data");
  mkdirSync(path.join(dataRoot, "content"), { recursive: true });
  const port = await freePort();
  const nginx = await startNginx({
    name: "nginx-health",
    prefix: path.join(prefix, "nginx"),
    conf: renderStoreNginx({
      ...BASE,
      listen: { host: "127.0.0.1", port },
      contentRoot: path.join(dataRoot, "content"),
    }),
    logDir: path.join(prefix, "logs"),
    readyUrl: `http://127.0.0.1:${port}/`,
  });
  t.teardown(async () => {
    await nginx.stop();
    rmSync(prefix, { recursive: true, force: true });
  });
  const probe = async () => {
    const res = await request(`http://127.0.0.1:${port}${DISK_HEALTH_PATH}`);
    await res.body.dump();
    return diskProblem(res.statusCode, res.headers, 10_000);
  };
  t.regex((await probe())!, /answered 404/, "no file yet");
  await new DiskHealthWriter({ dataRoot, interval: 1000, log: pino({ level: "silent" }) }).write();
  t.is(await probe(), undefined);
  const file = path.join(dataRoot, DISK_HEALTH_FILE);
  chmodSync(file, 0);
  t.regex((await probe())!, /answered 403/, "read afresh on every request: no cached open file answers");
  chmodSync(file, 0o644);
  t.is(await probe(), undefined);
  unlinkSync(file);
  t.regex((await probe())!, /answered 404/);
});

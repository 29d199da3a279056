import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:https";
import { createRequire } from "node:module";
import path from "node:path";
import { clusterSetup, type Options } from "./cluster.js";

// The CouchDB stand-in: express-pouchdb (the server inside pouchdb-server) on
// LevelDB under --data, or in memory. Own process, so its known crash paths
// cannot take a node down. Adds what CouchDB has and express-pouchdb lacks:
// /_up, an admin from COUCHDB_USER/COUCHDB_PASSWORD (as CouchDB's image takes
// it), _cluster_setup (see cluster.ts) and, as CouchDB's [ssl] section in the
// --ini-dir files asks, a TLS listener beside the plain one.

const require = createRequire(import.meta.url);
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!, process.argv[i + 1] ?? "");
const port = Number(args.get("--port") ?? 5984);
const host = args.get("--host") ?? "127.0.0.1";
const data = args.get("--data");
const clusterPort = args.has("--cluster-port") ? Number(args.get("--cluster-port")) : undefined;
const iniDir = args.get("--ini-dir");
const env = process.env;
const admin =
  env.COUCHDB_USER && env.COUCHDB_PASSWORD ? { name: env.COUCHDB_USER, password: env.COUCHDB_PASSWORD } : undefined;

const express = require("express");
const PouchDB = require("pouchdb-core")
  .plugin(require("pouchdb-adapter-http"))
  .plugin(require("pouchdb-mapreduce"))
  .plugin(require("pouchdb-replication"))
  .plugin(require("pouchdb-find"))
  .plugin(data ? require("pouchdb-adapter-leveldb") : require("pouchdb-adapter-memory"));

if (data) mkdirSync(data, { recursive: true });
const Db = data ? PouchDB.defaults({ prefix: `${path.resolve(data)}/` }) : PouchDB.defaults({ adapter: "memory" });

const app = express();
app.get("/_up", (_req: unknown, res: { json(v: unknown): void }) => res.json({ status: "ok" }));
const pouch = require("express-pouchdb")(Db, {
  mode: "fullCouchDB",
  inMemoryConfig: true,
  logPath: data ? path.join(data, "log.txt") : "/dev/null",
});
if (admin) pouch.couchConfig.set("admins", admin.name, admin.password, () => {});
if (clusterPort !== undefined) {
  const options: Options = { admin, nodeName: env.NODENAME ?? host, clusterPort, stateDir: data, localPort: port };
  app.use(clusterSetup(options));
}
app.use("/", pouch);
const servers = [port, ...(clusterPort === undefined ? [] : [clusterPort])].map((p) =>
  app.listen(p, host, () => process.stdout.write(`couchdb stand-in on http://${host}:${p}\n`)),
);
const ssl = iniDir ? sslSection(iniDir) : undefined;
if (ssl?.enable === "true") {
  const tlsPort = Number(ssl.port ?? 6984);
  const tls = { cert: readFileSync(ssl.cert_file!), key: readFileSync(ssl.key_file!) };
  servers.push(
    createServer(tls, app).listen(tlsPort, host, () =>
      process.stdout.write(`couchdb stand-in on https://${host}:${tlsPort}\n`),
    ),
  );
}
const stop = () => {
  let open = servers.length;
  for (const s of servers) s.close(() => --open === 0 && process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

/** The [ssl] keys of the ini files in `dir`, later files winning, as CouchDB reads local.d. */
function sslSection(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith(".ini"))
    .sort()) {
    let section = "";
    for (const line of readFileSync(path.join(dir, f), "utf8").split("\n")) {
      const head = /^\s*\[([^\]]+)\]/.exec(line);
      if (head) section = head[1]!;
      const kv = /^\s*([\w.]+)\s*=\s*(.*?)\s*$/.exec(line);
      if (kv && section === "ssl") out[kv[1]!] = kv[2]!;
    }
  }
  return out;
}

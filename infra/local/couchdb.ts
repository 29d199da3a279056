import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

// The CouchDB stand-in: express-pouchdb (the server inside pouchdb-server) on
// LevelDB under --data, or in memory. Own process, so its known crash paths
// cannot take a node down. Adds the /_up health route CouchDB has.

const require = createRequire(import.meta.url);
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!, process.argv[i + 1] ?? "");
const port = Number(args.get("--port") ?? 5984);
const host = args.get("--host") ?? "127.0.0.1";
const data = args.get("--data");

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
app.use(
  "/",
  require("express-pouchdb")(Db, {
    mode: "fullCouchDB",
    inMemoryConfig: true,
    logPath: data ? path.join(data, "log.txt") : "/dev/null",
  }),
);
const server = app.listen(port, host, () => process.stdout.write(`couchdb stand-in on http://${host}:${port}\n`));
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TestFn } from "ava";
import { Redis } from "ioredis";
import nano, { type ServerScope } from "nano";
import { type Couch, openCouch } from "../../app/adapters/couch/index.js";
import { logger } from "../../app/log.js";
import { freePort, type Proc, startProc, waitFor } from "../../infra/local/proc.js";
import { startCouch } from "../../infra/local/services.js";
import { ooseStart } from "../helpers/ops.js";
import type { RunOptions } from "../../migrations/lib/runner.js";
import { silentProgress } from "../../migrations/lib/types.js";

// Migration tests run against the CouchDB stand-in and a real redis-server,
// both started per test file on free ports and stopped by pid.

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface Services {
  couchUrl: string;
  redisUrl: string;
  server: ServerScope;
  redis: Redis;
  dir: string;
  couch(database: string): Couch;
}

export function useServices(test: TestFn): () => Services {
  let services: Services | undefined;
  const procs: Proc[] = [];
  const couches: Couch[] = [];
  test.before(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "oose-migrate-"));
    const [couchPort, redisPort] = [await freePort(), await freePort()];
    procs.push(await startCouch({ port: couchPort, logDir: dir }));
    const redisProc = startProc(
      "redis",
      "redis-server",
      ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { logDir: dir },
    );
    procs.push(redisProc);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on("error", () => undefined);
    await waitFor("redis", async () => (await redis.ping()) === "PONG");
    const couchUrl = `http://127.0.0.1:${couchPort}`;
    services = {
      couchUrl,
      redisUrl,
      server: nano(couchUrl),
      redis,
      dir,
      couch(database) {
        const c = openCouch({ url: couchUrl, database, timeoutMs: 60_000 });
        couches.push(c);
        return c;
      },
    };
  });
  test.after.always(async () => {
    services?.redis.disconnect();
    await Promise.all(couches.map((c) => c.close()));
    await Promise.all(procs.map((p) => p.stop()));
    if (services) rmSync(services.dir, { recursive: true, force: true });
  });
  return () => {
    if (!services) throw new Error("services did not start");
    return services;
  };
}

const quiet = logger("test", "migrate");
quiet.level = "silent";

/** Runner options for an in-process run against `database` / `redisPrefix`. */
export function runOptions(
  s: Services,
  database: string,
  redisPrefix: string,
  o: Partial<RunOptions> = {},
): RunOptions {
  return {
    couch: s.couch(database),
    redis: () => {
      const r = new Redis(s.redisUrl, { maxRetriesPerRequest: 1 });
      r.on("error", () => undefined);
      return r;
    },
    settings: {
      database,
      redisPrefix,
      afterlife: 7_200_000,
      batchSize: 7,
      warmViews: true,
      viewBuildTimeoutMs: 60_000,
    },
    log: quiet,
    progress: silentProgress,
    dryRun: false,
    leaseMs: 5000,
    command: "test",
    ...o,
  };
}

/** Starts `oose <args>` (from another cwd, as an operator would). */
export const cli = (args: string[], env: Record<string, string> = {}) =>
  ooseStart(args, { OOSE_LOG_LEVEL: "warn", ...env });

/** The JSON report a `--json` run prints as its last stdout line. */
export { json as report } from "../helpers/ops.js";

/** Every doc of a database (design docs included), without revisions; absent database → undefined. */
export async function dump(server: ServerScope, db: string, omit: string[] = []) {
  try {
    const res = await server.use(db).list({ include_docs: true });
    return Object.fromEntries(
      res.rows.map((r) => {
        const { _rev, ...doc } = r.doc as unknown as Record<string, unknown>;
        for (const k of omit) delete doc[k];
        return [r.id, doc];
      }),
    );
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

/** Every key under `<prefix>:` with its type, value and whether it expires (TTLs themselves shrink). */
export async function dumpRedis(redis: Redis, prefix: string) {
  const out: Record<string, { type: string; value: unknown; expires: boolean }> = {};
  for (const key of (await redis.keys(`${prefix}:*`)).sort()) {
    const type = await redis.type(key);
    const value = type === "hash" ? await redis.hgetall(key) : await redis.get(key);
    out[key] = { type, value, expires: (await redis.pttl(key)) >= 0 };
  }
  return out;
}

export const dbNames = (database: string) => [
  database,
  ...["peer", "inventory", "heartbeat", "purchase", "meta"].map((k) => `${database}-${k}`),
];

export async function dumpAll(s: Services, database: string, prefix: string, omit: string[] = []) {
  const couch: Record<string, unknown> = {};
  for (const name of dbNames(database)) couch[name] = await dump(s.server, name, omit);
  return { couch, redis: await dumpRedis(s.redis, prefix) };
}

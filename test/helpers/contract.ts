import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ExecutionContext, TestFn } from "ava";
import { Redis } from "ioredis";
import { type Couch, openCouch } from "../../app/adapters/couch/index.js";
import { ensureDatabases } from "../../app/adapters/couch/setup.js";
import { logger } from "../../app/log.js";
import { freePort, type Proc, startProc, waitFor } from "../../infra/local/proc.js";
import { startCouch } from "../../infra/local/services.js";
import { loadMigrations } from "../../migrations/lib/context.js";
import { migrateUp } from "../../migrations/lib/runner.js";
import { silentProgress } from "../../migrations/lib/types.js";

// One body of tests per port, run against every implementation of it (the
// real adapter and the in-memory one), as tus-node-server runs one suite
// against each of its stores. Each case gets a fresh port instance.

export interface Implementation<P> {
  name: string;
  make(): Promise<{ port: P; close?: () => Promise<void> }>;
}

export type Case<P> = (t: ExecutionContext, port: P) => Promise<void>;

/** Registers every case once per implementation, titled "<implementation>: <case>". */
export function contract<P>(test: TestFn, impls: Implementation<P>[], cases: Record<string, Case<P>>): void {
  for (const impl of impls) {
    for (const [title, body] of Object.entries(cases)) {
      test(`${impl.name}: ${title}`, async (t) => {
        const { port, close } = await impl.make();
        try {
          await body(t, port);
        } finally {
          await close?.();
        }
      });
    }
  }
}

/** A plain redis-server for one test file, on a free port; stopped after the file's tests. */
export function useRedis(test: TestFn): () => Promise<Redis> {
  let started: Promise<{ url: string; stop(): Promise<void> }> | undefined;
  const clients: Redis[] = [];
  const start = async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "oose-contract-"));
    const port = await freePort();
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
    const proc = startProc("redis", "redis-server", args, { logDir: dir });
    const url = `redis://127.0.0.1:${port}`;
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    probe.on("error", () => undefined);
    await waitFor("redis", async () => (await probe.ping()) === "PONG").finally(() => probe.disconnect());
    return {
      url,
      async stop() {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
  test.after.always(async () => {
    for (const c of clients) c.disconnect();
    await (await started)?.stop();
  });
  /** A new client of the file's Redis, started on first use. Cases share it: each uses its own key prefix. */
  return async () => {
    started ??= start();
    const redis = new Redis((await started).url, { maxRetriesPerRequest: 1 });
    clients.push(redis);
    return redis;
  };
}

export interface CouchCase {
  /** The case's own databases (`<database>-peer`, `-inventory`, …). */
  couch: Couch;
  /** The stand-in's address, for what talks to the server itself (logins). */
  url: string;
}

export interface CouchCaseOptions {
  /**
   * Set the databases up as `oose migrate up` does (0001-base: the databases,
   * their _security and the inventory design docs) rather than as a node does
   * on start (the databases only). The migrations after it need Redis.
   */
  migrated?: boolean;
  /** With `migrated`: later migrations to apply as well, by id (those that need no Redis). */
  also?: string[];
}

const quiet = logger("test", "contract");
quiet.level = "silent";

/** The CouchDB stand-in for one test file, on a free port; stopped after the file's tests. */
export function useCouch(test: TestFn): (o?: CouchCaseOptions) => Promise<CouchCase> {
  let started: Promise<{ url: string; dir: string; proc: Proc }> | undefined;
  const couches: Couch[] = [];
  let databases = 0;
  const start = async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "oose-contract-"));
    const port = await freePort();
    const proc = await startCouch({ port, logDir: dir });
    return { url: `http://127.0.0.1:${port}`, dir, proc };
  };
  test.after.always(async () => {
    await Promise.all(couches.map((c) => c.close()));
    const s = await started;
    if (!s) return;
    await s.proc.stop();
    rmSync(s.dir, { recursive: true, force: true });
  });
  /** A fresh set of databases on the file's stand-in, started on first use. */
  return async (o = {}) => {
    started ??= start();
    const { url } = await started;
    const database = `case${++databases}`;
    const couch = openCouch({ url, database, timeoutMs: 5000 });
    couches.push(couch);
    if (!o.migrated) {
      await ensureDatabases(couch);
      return { couch, url };
    }
    const report = await migrateUp({
      couch,
      settings: {
        database,
        redisPrefix: database,
        afterlife: 7_200_000,
        batchSize: 100,
        warmViews: true,
        viewBuildTimeoutMs: 10_000,
      },
      log: quiet,
      progress: silentProgress,
      dryRun: false,
      migrations: (await loadMigrations()).filter((m) => m.number === 1 || o.also?.includes(m.id)),
      leaseMs: 5000,
      command: "contract test",
    });
    if (!report.ok) throw new Error(`migrations failed: ${report.error ?? JSON.stringify(report.results)}`);
    return { couch, url };
  };
}

/** Waits until `check` holds, up to `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

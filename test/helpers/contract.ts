import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ExecutionContext, TestFn } from "ava";
import { Redis } from "ioredis";
import { freePort, startProc, waitFor } from "../../infra/local/proc.js";

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

/** Waits until `check` holds, up to `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

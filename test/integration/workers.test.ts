import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import test from "ava";
import { Agent } from "undici";
import { PrismClient } from "../../packages/client/src/index.js";
import { useCluster } from "../helpers/cluster.js";
import { FOX, loggedIn } from "../helpers/prism.js";

// A prism with workers=2: two API processes on one port under a supervisor
// that replaces a dead worker and stops them all on SIGTERM.

const cluster = useCluster(test, {
  prisms: 1,
  storesPerPrism: 2,
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? { OOSE_WORKERS: "2" } : {}),
});

const children = (pid: number): number[] => {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const until = async (what: string, check: () => boolean, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

test.serial("two workers serve one port; a dead worker is replaced; stop leaves none", async (t) => {
  const c = cluster();
  const supervisor = c.procs.prism1!.pid;
  await until("two workers", () => children(supervisor).length === 2);
  const [first] = children(supervisor);

  const client = await loggedIn(c);
  const up = await client.upload([{ name: "fox.txt", data: FOX, type: "text/plain" }]);
  t.is(up.files.file!.copies.length, 2);
  // Sessions live in Redis, so whichever worker answers knows the token.
  for (let i = 0; i < 10; i++) t.is((await client.detail(up.files.file!.hash)).count, 2);

  process.kill(first!, "SIGKILL");
  await until("a replacement worker", () => children(supervisor).length === 2 && !children(supervisor).includes(first!));
  // A kept-alive connection to the dead worker dies with it; a client's next connection is served.
  const ca = c.info.ca ? readFileSync(c.info.ca) : undefined;
  const fresh = new PrismClient({
    baseUrl: c.info.prisms[0]!.url,
    token: client.token,
    dispatcher: new Agent({ connect: { ca } }),
  });
  for (let i = 0; i < 10; i++) t.is((await fresh.detail(up.files.file!.hash)).count, 2);

  const workers = children(supervisor);
  await c.procs.prism1!.stop();
  t.false(alive(supervisor));
  for (const pid of workers) t.false(alive(pid), `worker ${pid} outlived its supervisor`);
});

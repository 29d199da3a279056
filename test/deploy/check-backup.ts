import assert from "node:assert/strict";
import { podman } from "./podman.js";

// Backup and restore as an operator runs them in a deployment: `oose` inside a
// prism's container, with the container's env, over the TLS backends. The
// archive holds the copies and the purchase the check made; restored onto the
// live cluster it finds every document and key unchanged.

type Say = (line: string) => void;
const ARCHIVE = "/tmp/replay.oose.gz";

const oose = async (container: string, args: string[]) => {
  const run = await podman(["exec", container, "node", "/app/bin/oose.js", ...args, "--json"], {
    reject: false,
    timeoutMs: 120_000,
  });
  assert.equal(run.exitCode, 0, `oose ${args[0]} in ${container}: ${run.stdout}${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
};

export async function backupRestore(container: string, copies: number, say: Say): Promise<void> {
  const made = await oose(container, ["backup", ARCHIVE]);
  assert.ok(made.counts.inventory >= copies, `the archive holds the ${copies} copies: ${JSON.stringify(made.counts)}`);
  assert.ok(made.counts.purchase >= 1, "the archive holds the purchase");
  const restored = await oose(container, ["restore", ARCHIVE]);
  assert.ok(restored.ok, JSON.stringify(restored));
  assert.deepEqual(
    restored.docs.inventory,
    { created: 0, updated: 0, unchanged: made.counts.inventory, failed: 0 },
    "a restore onto the live cluster changes no document",
  );
  assert.deepEqual(
    restored.keys.purchase,
    { restored: 0, unchanged: made.counts.purchase, expired: 0, failed: 0 },
    "the purchases already hold the archive's values: left, and no prism drops its copy",
  );
  await podman(["exec", container, "rm", "-f", ARCHIVE], { reject: false });
  say(
    `  backup in ${container}: ${made.records} records (${made.counts.inventory} inventory docs, ` +
      `${made.counts.purchase} purchases); restored onto the live cluster, every document and key unchanged`,
  );
}

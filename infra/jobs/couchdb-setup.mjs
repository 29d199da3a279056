// One-shot CouchDB setup, run with the app image's node: waits for every node's
// /_up, then walks the _cluster_setup steps in /setup/plan.json on the
// coordinator. An already set-up cluster is left alone, so it may run again.
import { readFileSync } from "node:fs";

const plan = JSON.parse(readFileSync(new URL("./plan.json", import.meta.url), "utf8"));
const headers = { authorization: plan.authorization, "content-type": "application/json" };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUp(url) {
  for (let attempt = 0; attempt < 90; attempt++) {
    try {
      const res = await fetch(`${url}/_up`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(2000);
  }
  throw new Error(`CouchDB at ${url} never came up`);
}

for (const url of plan.nodes) await waitUp(url);
const endpoint = `${plan.coordinator}/_cluster_setup`;
const current = await fetch(endpoint, { headers, signal: AbortSignal.timeout(10_000) });
if (!current.ok) throw new Error(`GET _cluster_setup: ${current.status} ${await current.text()}`);
const { state } = await current.json();
if (state === "cluster_finished" || state === "single_node_enabled") {
  process.stdout.write(`CouchDB is already set up (${state})\n`);
  process.exit(0);
}
for (const step of plan.steps) {
  const res = await fetch(endpoint, {
    method: "POST",
    headers,
    body: JSON.stringify(step),
    signal: AbortSignal.timeout(60_000),
  });
  const target = step.remote_node ?? step.host ?? "";
  process.stdout.write(`_cluster_setup ${step.action} ${target}: ${res.status} ${(await res.text()).trim()}\n`);
  if (!res.ok) process.exit(1);
}

// One-shot CouchDB setup, run with the app image's node: waits for every node's
// /_up, then walks the _cluster_setup steps in plan.json on the coordinator.
// On a cluster already set up, only the steps of nodes not yet in _membership
// are walked (a node added to the stack joins), so it may run again.
import { readFileSync } from "node:fs";

const plan = JSON.parse(readFileSync(new URL("./plan.json", import.meta.url), "utf8"));
const headers = { authorization: plan.authorization, "content-type": "application/json" };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUp(url) {
  let last = "no answer";
  for (let attempt = 0; attempt < 90; attempt++) {
    try {
      const res = await fetch(`${url}/_up`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return;
      last = `${res.status} ${(await res.text()).trim()}`;
    } catch (err) {
      // Not listening yet, or not resolvable: the cause is what an operator needs.
      last = err.cause?.message ?? err.message;
    }
    await sleep(2000);
  }
  throw new Error(`CouchDB at ${url} never came up; last: ${last}`);
}

async function get(path) {
  const res = await fetch(`${plan.coordinator}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

for (const url of plan.nodes) await waitUp(url);
const { state } = await get("/_cluster_setup");
let steps = plan.steps;
if (state === "cluster_finished" || state === "single_node_enabled") {
  const { cluster_nodes: members } = await get("/_membership");
  const target = (step) => step.remote_node ?? step.host;
  steps = plan.steps.filter((step) => target(step) && !members.includes(`couchdb@${target(step)}`));
  if (steps.length === 0) {
    process.stdout.write(`CouchDB is already set up (${state}), every node a member\n`);
    process.exit(0);
  }
}
for (const step of steps) {
  const res = await fetch(`${plan.coordinator}/_cluster_setup`, {
    method: "POST",
    headers,
    body: JSON.stringify(step),
    signal: AbortSignal.timeout(60_000),
  });
  const target = step.remote_node ?? step.host ?? "";
  process.stdout.write(`_cluster_setup ${step.action} ${target}: ${res.status} ${(await res.text()).trim()}\n`);
  if (!res.ok) process.exit(1);
}

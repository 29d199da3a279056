import assert from "node:assert/strict";
import { connect } from "node:net";
import { Agent, request } from "undici";
import { PRISM_TLS_NAME } from "../../infra/components/node-tls.js";
import { podman } from "./podman.js";
import type { Topology } from "./check.js";
import type { Recording } from "./record.js";

// The node hops of a replayed cluster: prisms call stores over HTTPS verified
// against the cluster CA (plain HTTP is refused), every prism's certificate
// holds the name the front verifies, one the CA did not issue is refused, and
// from this machine (every emulated host's loopback) no node API answers on
// 127.0.0.1: only on the ports published on a host's own address.

type Say = (line: string) => void;
const CA_FILE = "/etc/oose/tls/ca.crt";

/** GET `url` from inside `container` (the app image's node): the status, or ERR and the error code. */
const PROBE = `
const [url, name, trust] = process.argv.slice(1);
const u = new URL(url);
const ca = trust === "cluster" ? require("node:fs").readFileSync(${JSON.stringify(CA_FILE)}) : undefined;
const lib = u.protocol === "https:" ? require("node:https") : require("node:http");
const req = lib.get(u, { ca, servername: name || undefined, timeout: 3000 }, (r) => {
  r.resume();
  console.log(r.statusCode);
  process.exit(0);
});
req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
req.on("error", (e) => { console.log("ERR " + (e.code || e.message)); process.exit(0); });`;

async function probe(container: string, url: string, o: { name?: string; trust?: "cluster" | "system" } = {}) {
  const args = ["exec", container, "node", "-e", PROBE, url, o.name ?? "", o.trust ?? "cluster"];
  return (await podman(args, { timeoutMs: 15_000 })).stdout.trim();
}

/** Whether anything accepts a TCP connection at host:port from this machine. */
const listening = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host, port, timeout: 2000 });
    const done = (open: boolean) => {
      s.destroy();
      resolve(open);
    };
    s.once("connect", () => done(true));
    s.once("timeout", () => done(false));
    s.once("error", () => done(false));
  });

/** The cluster CA, as the program uploads it to every node. */
function clusterCa(rec: Recording): string {
  for (const r of rec.resources) {
    const u = (r.inputs.uploads as { file: string; content: string }[] | undefined)?.find((x) => x.file === CA_FILE);
    if (u) return u.content;
  }
  throw new Error(`no container gets ${CA_FILE}`);
}

export async function nodeHops(t: Topology, rec: Recording, say: Say): Promise<void> {
  const prismNames = Object.keys(rec.outputs.prismUrls);
  const prism = t.containers.prism(prismNames[0]!);
  const store = t.stores.at(-1)!;
  const api = t.containers.storeApi(store.name);
  assert.equal(await probe(prism, `${api}/livez`), "200", `${prism} → ${store.name} over https`);
  assert.match(
    await probe(prism, `${api.replace("https:", "http:")}/livez`),
    /^ERR /,
    "the store API refuses plain HTTP",
  );
  const other = rec.outputs.prismUrls[prismNames.at(-1)!]!;
  assert.equal(
    await probe(prism, `${other}/livez`, { name: PRISM_TLS_NAME }),
    "200",
    `${other} as the front checks it`,
  );
  assert.match(await probe(prism, `${other}/livez`, { trust: "system" }), /^ERR /, "a CA the cluster did not make");
  say(`  node TLS: ${prism} reaches ${store.name} at ${api} (plain HTTP refused); prisms hold ${PRISM_TLS_NAME}`);

  // Every published port is bound to its host's address: nothing on this machine's loopback.
  const apis = [...t.stores.map((s) => t.containers.storeApi(s.name)), ...Object.values(rec.outputs.prismUrls)];
  const ports = new Set(apis.map((u) => Number(new URL(u).port)));
  for (const port of ports) assert.ok(!(await listening("127.0.0.1", port)), `a node API answers on 127.0.0.1:${port}`);
  const multiHost = Object.keys(t.addresses).length > 1;
  if (multiHost) {
    const dispatcher = new Agent({ connect: { ca: clusterCa(rec), timeout: 3000 } });
    try {
      for (const u of apis) {
        const res = await request(`${u}/livez`, { dispatcher });
        await res.body.dump();
        assert.equal(res.statusCode, 200, `${u} on its host's address`);
      }
    } finally {
      await dispatcher.close();
    }
  }
  say(
    `  bound: no node API on 127.0.0.1 (ports ${[...ports].join(", ")})` +
      (multiHost ? `; each answers https on its host's address only (${apis.length} checked)` : ""),
  );
}

import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { SIGNING_KEY_PATTERN } from "../../app/core/signing.js";
import { defaultSpec, nodesOf } from "../../app/topology/model.js";
import { localAddressing, localPorts, neededPorts } from "../../infra/local/addressing.js";
import { loadOrCreateSecrets } from "../../infra/local/secrets.js";

test("local ports follow the documented layout and never collide", (t) => {
  const spec = defaultSpec(3, 2);
  const at = localAddressing(spec, 20000, "data");
  const ports = at.ports;
  t.is(ports.front, 20000);
  t.is(ports.couchdb, 20001);
  t.is(ports.redisPrimary, 20002);
  t.deepEqual(ports.redisReplicas, [20003]);
  t.deepEqual(ports.sentinels, [20004, 20005, 20006]);
  t.deepEqual(
    spec.prisms.map((p) => ports.api.get(p.name)),
    [20010, 20011, 20012],
  );
  t.deepEqual(
    spec.stores.map((s) => ports.api.get(s.name)),
    [20040, 20041, 20042, 20043, 20044, 20045],
  );
  t.deepEqual(
    spec.stores.map((s) => at.publicUrl({ ...s, role: "store" })),
    [20070, 20071, 20072, 20073, 20074, 20075].map((p) => `http://127.0.0.1:${p}`),
  );
  t.is(at.dataRoot(nodesOf(spec)[0]!), path.resolve("data", "prism1"));
  const all = neededPorts(spec, ports, true).map(([p]) => p);
  t.is(new Set(all).size, all.length);
  t.is(all.length, 1 + 1 + 1 + 1 + 3 + 3 + 6 + 6);
  t.false(
    neededPorts(spec, ports, false).some(([, what]) => what === "couchdb"),
    "an external CouchDB needs no local port",
  );
  t.throws(() => localPorts(defaultSpec(31, 1), 20000), { message: /room for 30 prisms/ });
  t.throws(() => localPorts(defaultSpec(), 65500), { message: /no room/ });
});

test("secrets are generated once, kept with mode 0600 and usable as a signing key", (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "oose-secrets-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = loadOrCreateSecrets(dir);
  t.is(statSync(path.join(dir, "secrets.json")).mode & 0o777, 0o600);
  t.regex(first.signingKey, SIGNING_KEY_PATTERN);
  t.not(first.prismAuth.password, first.storeAuth.password);
  t.deepEqual(loadOrCreateSecrets(dir), first);
});

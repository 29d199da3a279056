import test from "ava";
import { request } from "undici";
import { openCouch } from "../../app/adapters/couch/index.js";
import { addUser } from "../../app/adapters/couch/users.js";
import { useCluster } from "../helpers/cluster.js";
import { type Doc, driveEveryRoute, type Send } from "../helpers/openapi.js";

// Every prism route on a local cluster (real stores, CouchDB stand-in, Redis
// HA), over HTTPS as a client calls it, to a success and an error, each reply
// checked against the document that prism serves.

const cluster = useCluster(test, {
  // The import route fetches from a loopback origin the test runs.
  extraEnv: (node): Record<string, string> => (node.role === "prism" ? { OOSE_RETRIEVE__ALLOW_PRIVATE: "true" } : {}),
});

const TIMEOUT_MS = 30_000;

test("every prism route, to a success and an error, answers what its document says", async (t) => {
  const c = cluster();
  const base = c.info.prisms[0]!.url;
  const user = { username: "alice", password: "alice-password-1" };
  const couch = openCouch({ url: c.info.couchdb, database: "oose", timeoutMs: TIMEOUT_MS });
  t.teardown(() => couch.close());
  await addUser(couch, user.username, user.password);

  const send: Send = async (method, url, headers = {}, payload) => {
    const isJson = payload !== undefined && !Buffer.isBuffer(payload);
    const res = await request(`${base}${url}`, {
      method: method as "GET",
      headers: { ...(isJson ? { "content-type": "application/json" } : {}), ...headers },
      body: payload === undefined ? undefined : isJson ? JSON.stringify(payload) : (payload as Buffer),
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
    const body = await res.body.text();
    return { statusCode: res.statusCode, headers: res.headers, body, json: () => JSON.parse(body) };
  };
  const doc = (await send("GET", "/openapi.json")).json() as Doc;
  const login = (await send("POST", "/user/login", {}, user)).json() as { session: { token: string } };
  await driveEveryRoute(t, {
    doc,
    send,
    session: { "x-oose-token": login.session.token },
    user,
    prismBasic: c.prismAuth(),
  });
});

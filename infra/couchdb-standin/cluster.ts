import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";

// _cluster_setup for the stand-in, so a deployment's own setup job runs
// against it unchanged. CouchDB nodes share their data over Erlang; the
// stand-in has no such thing, so a node joined by add_node forwards every
// request to the coordinator over the distribution port (9100, published
// across hosts as CouchDB's is). The data lives on the coordinator only.

const require = createRequire(import.meta.url);
const express = require("express");
const { createProxyMiddleware } = require("http-proxy-middleware");

export interface Options {
  admin?: { name: string; password: string };
  /** NODENAME: how the other nodes reach this one. */
  nodeName: string;
  clusterPort: number;
  localPort: number;
  /** Where the membership is kept, so it survives a restart. */
  stateDir?: string;
}

interface Membership {
  state: "cluster_disabled" | "single_node_enabled" | "cluster_enabled" | "cluster_finished";
  /** Set on a joined node: where it forwards to. */
  coordinator?: string;
  members: string[];
}

type Req = IncomingMessage & { body?: Record<string, unknown>; path: string };
type Res = ServerResponse & { status(n: number): Res; json(v: unknown): void };
type Next = () => void;

const REMOTE_TIMEOUT_MS = 10_000;
const basic = (name: string, password: string) => `Basic ${Buffer.from(`${name}:${password}`).toString("base64")}`;

export function clusterSetup(o: Options) {
  const file = o.stateDir && path.join(o.stateDir, "standin-cluster.json");
  let membership: Membership =
    file && existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : { state: "cluster_disabled", members: [] };
  const save = (next: Membership) => {
    membership = next;
    if (!file) return;
    writeFileSync(`${file}.tmp`, JSON.stringify(next));
    renameSync(`${file}.tmp`, file);
  };
  const proxy = (target: string) =>
    createProxyMiddleware({ target, proxyTimeout: 120_000, timeout: 120_000, xfwd: true });
  let forward = membership.coordinator ? proxy(membership.coordinator) : undefined;
  const authorized = (req: Req) => !o.admin || req.headers.authorization === basic(o.admin.name, o.admin.password);
  const self = `http://127.0.0.1:${o.localPort}`;
  const adminHeaders: Record<string, string> = o.admin ? { authorization: basic(o.admin.name, o.admin.password) } : {};

  const remote = async (url: string, body: unknown, authorization?: string) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization ? { authorization } : adminHeaders) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REMOTE_TIMEOUT_MS),
    });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  };
  // CouchDB creates these when a node or cluster is set up.
  const systemDbs = async () => {
    for (const db of ["_users", "_replicator"]) {
      const res = await fetch(`${self}/${db}`, {
        method: "PUT",
        headers: adminHeaders,
        signal: AbortSignal.timeout(REMOTE_TIMEOUT_MS),
      });
      if (!res.ok && res.status !== 412) throw new Error(`create ${db}: ${res.status}`);
    }
  };

  const setup = async (body: Record<string, unknown>): Promise<{ status: number; body: unknown }> => {
    switch (body.action) {
      case "enable_single_node":
        await systemDbs();
        save({ ...membership, state: "single_node_enabled" });
        return { status: 201, body: { ok: true } };
      case "enable_cluster":
        if (typeof body.remote_node === "string") {
          const auth = basic(String(body.remote_current_user), String(body.remote_current_password));
          const { remote_node, remote_current_user, remote_current_password, ...rest } = body;
          return remote(`http://${remote_node}:${body.port}/_cluster_setup`, rest, auth);
        }
        if (membership.state === "cluster_disabled") save({ ...membership, state: "cluster_enabled" });
        return { status: 201, body: { ok: true } };
      case "add_node": {
        const joined = await remote(`http://${body.host}:${body.port}/_standin/join`, {
          coordinator: `http://${o.nodeName}:${o.clusterPort}`,
        });
        if (joined.status !== 201) return joined;
        save({ ...membership, members: [...new Set([...membership.members, String(body.host)])] });
        return { status: 201, body: { ok: true } };
      }
      case "finish_cluster":
        await systemDbs();
        save({ ...membership, state: "cluster_finished" });
        return { status: 201, body: { ok: true } };
      default:
        return { status: 400, body: { error: "bad_request", reason: `unknown action ${String(body.action)}` } };
    }
  };

  const router = express.Router();
  router.use((req: Req, res: Res, next: Next) => {
    if (!forward || req.path === "/_up" || req.path === "/_standin/join") return next();
    return forward(req, res, next);
  });
  router.get("/_cluster_setup", (_req: Req, res: Res) => res.status(200).json({ state: membership.state }));
  router.get("/_membership", (_req: Req, res: Res) => {
    const nodes = [o.nodeName, ...membership.members].map((n) => `couchdb@${n}`);
    res.status(200).json({ all_nodes: nodes, cluster_nodes: nodes });
  });
  router.post("/_cluster_setup", express.json(), (req: Req, res: Res) => {
    if (!authorized(req))
      return res.status(401).json({ error: "unauthorized", reason: "Name or password is incorrect." });
    setup(req.body ?? {}).then(
      (r) => res.status(r.status).json(r.body),
      (err: Error) => res.status(500).json({ error: "setup_error", reason: err.message }),
    );
  });
  router.post("/_standin/join", express.json(), (req: Req, res: Res) => {
    if (!authorized(req))
      return res.status(401).json({ error: "unauthorized", reason: "Name or password is incorrect." });
    const coordinator = String(req.body?.coordinator ?? "");
    if (!/^http:\/\/[^/]+$/.test(coordinator))
      return res.status(400).json({ error: "bad_request", reason: "coordinator" });
    save({ state: "cluster_finished", coordinator, members: [] });
    forward = proxy(coordinator);
    res.status(201).json({ ok: true });
  });
  return router;
}

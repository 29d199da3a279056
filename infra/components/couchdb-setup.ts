import { readFileSync } from "node:fs";

// The _cluster_setup conversation for the one-shot job in jobs/couchdb-setup.mjs.
// Bodies are built here as JSON, so no password is ever spliced into a shell
// line; the plan file holding them is uploaded as a secret.

export interface SetupNode {
  /** NODENAME: the name CouchDB knows the node by, reachable on `port`. */
  host: string;
  port: number;
  /** How the job reaches the node's HTTP API. */
  url: string;
}

export interface Admin {
  username: string;
  password: string;
}

export interface SetupPlan {
  nodes: string[];
  coordinator: string;
  authorization: string;
  steps: object[];
}

export const SETUP_DIR = "/tmp/couchdb-setup";
export const SETUP_SCRIPT = readFileSync(new URL("../jobs/couchdb-setup.mjs", import.meta.url), "utf8");

/** Ordered _cluster_setup bodies; the first node coordinates. */
export function setupSteps(nodes: SetupNode[], admin: Admin): object[] {
  const creds = { username: admin.username, password: admin.password };
  if (nodes.length === 1) {
    return [
      { action: "enable_single_node", ...creds, bind_address: "0.0.0.0", port: nodes[0]!.port, singlenode: true },
    ];
  }
  const base = { ...creds, bind_address: "0.0.0.0", node_count: String(nodes.length) };
  return [
    { action: "enable_cluster", ...base },
    ...nodes.slice(1).flatMap((n) => [
      {
        action: "enable_cluster",
        ...base,
        port: n.port,
        remote_node: n.host,
        remote_current_user: admin.username,
        remote_current_password: admin.password,
      },
      { action: "add_node", ...creds, host: n.host, port: n.port },
    ]),
    { action: "finish_cluster" },
  ];
}

export function setupPlan(nodes: SetupNode[], admin: Admin): SetupPlan {
  return {
    nodes: nodes.map((n) => n.url),
    coordinator: nodes[0]!.url,
    authorization: `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString("base64")}`,
    steps: setupSteps(nodes, admin),
  };
}

import { deploy, plain, settle } from "../infra/harness.js";

// The Pulumi program run as the mock tests run it (test/infra/harness.ts),
// with what the engine would be told about every resource: its resolved
// inputs, its provider's host and the resources it depends on.

export interface Declared {
  type: string;
  name: string;
  /** The host of its docker provider. */
  host?: string;
  inputs: Record<string, unknown>;
  /** Names of the resources it must come after. */
  dependsOn: string[];
}

export interface Recording {
  resources: Declared[];
  outputs: {
    frontUrl?: string;
    prismUrls: Record<string, string>;
    storeUrls: Record<string, string>;
    credentials: {
      prism: { username: string; password: string };
      store: { username: string; password: string };
      couchdb: { username: string; password: string };
    };
  };
}

/** Runs the program of `stackFile` (with `settings` replacing whole stack keys) and records what it declares. */
export async function record(stackFile: string, settings: Record<string, unknown> = {}): Promise<Recording> {
  const d = await deploy(stackFile, {}, settings);
  const c = d.cluster;
  const credentials = (await settle(c.credentials)) as Recording["outputs"]["credentials"];
  return {
    resources: d.resources.map((r) => ({
      type: r.type,
      name: r.name,
      host: r.host,
      inputs: plain(r.inputs) as Record<string, unknown>,
      dependsOn: r.dependsOn,
    })),
    outputs: { frontUrl: c.frontUrl, prismUrls: c.prismUrls, storeUrls: c.storeUrls, credentials },
  };
}

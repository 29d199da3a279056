import { MockMonitor } from "@pulumi/pulumi/runtime/mocks.js";
import { deploy, plain, settle } from "../infra/harness.js";

// The Pulumi program run as the mock tests run it, with what the engine would
// be told about every resource: its resolved inputs, its provider's host and
// the resources it depends on (dependsOn and those its inputs come from, as
// the SDK reports them in RegisterResource).

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

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getDependenciesList(): string[];
}

const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

/** Runs the program of `stackFile` (with `settings` replacing whole stack keys) and records what it declares. */
export async function record(stackFile: string, settings: Record<string, unknown> = {}): Promise<Recording> {
  const deps = new Map<string, string[]>();
  const register = MockMonitor.prototype.registerResource;
  MockMonitor.prototype.registerResource = function (req: RegisterRequest, callback: never) {
    deps.set(`${req.getType()}/${req.getName()}`, req.getDependenciesList().map(nameOf));
    return register.call(this, req, callback);
  };
  try {
    const d = await deploy(stackFile, {}, settings);
    const c = d.cluster;
    const credentials = (await settle(c.credentials)) as Recording["outputs"]["credentials"];
    return {
      resources: d.resources.map((r) => ({
        type: r.type,
        name: r.name,
        host: r.host,
        inputs: plain(r.inputs) as Record<string, unknown>,
        dependsOn: [...new Set(deps.get(`${r.type}/${r.name}`) ?? [])],
      })),
      outputs: { frontUrl: c.frontUrl, prismUrls: c.prismUrls, storeUrls: c.storeUrls, credentials },
    };
  } finally {
    MockMonitor.prototype.registerResource = register;
  }
}

import { MockMonitor } from "@pulumi/pulumi/runtime/mocks.js";

// The resource options the SDK tells the engine and the mocks do not pass on
// to newResource: protect, retainOnDelete and aliases, by type and name.
// Importing this file records them for every later deployment in the process.

export interface Options {
  protect: boolean;
  retainOnDelete: boolean;
  /** The names (or URNs) the resource was known by before. */
  aliases: string[];
}

interface Request {
  getType(): string;
  getName(): string;
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getAliasesList(): { getUrn(): string; getSpec(): { getName(): string } | undefined }[];
}

const options = new Map<string, Options>();
const register = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (req: Request, callback: never) {
  options.set(`${req.getType()}/${req.getName()}`, {
    protect: req.getProtect() === true,
    retainOnDelete: req.getRetainondelete() === true,
    aliases: req.getAliasesList().map((a) => a.getSpec()?.getName() || a.getUrn()),
  });
  return register.call(this, req, callback);
};

export const optionsOf = (type: string, name: string): Options | undefined => options.get(`${type}/${name}`);

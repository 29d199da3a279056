import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Credentials } from "../../app/config.js";
import type { Secrets } from "../../app/topology/env.js";

// The local cluster's secrets live in <dataDir>/secrets.json (mode 0600) and
// survive restarts, so a persisted CouchDB keeps matching the admin password.

export interface LocalSecrets extends Secrets {
  admin: Credentials;
}

const token = (bytes: number) => randomBytes(bytes).toString("base64url");

function generate(): LocalSecrets {
  return {
    prismAuth: { username: "prism", password: token(18) },
    storeAuth: { username: "store", password: token(18) },
    signingKey: token(32),
    admin: { username: "admin", password: token(18) },
  };
}

const isCreds = (c: unknown): c is Credentials =>
  typeof c === "object" &&
  c !== null &&
  typeof (c as Credentials).username === "string" &&
  typeof (c as Credentials).password === "string";

function valid(s: Partial<LocalSecrets>): s is LocalSecrets {
  return isCreds(s.prismAuth) && isCreds(s.storeAuth) && isCreds(s.admin) && typeof s.signingKey === "string";
}

export function loadOrCreateSecrets(dataDir: string): LocalSecrets {
  const file = path.join(dataDir, "secrets.json");
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, "utf8")) as Partial<LocalSecrets>;
    if (!valid(stored)) throw new Error(`${file} is incomplete; fix it or start with --fresh`);
    return stored;
  }
  const secrets = generate();
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}

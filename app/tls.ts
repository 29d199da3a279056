import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { type Static, Type as T } from "@sinclair/typebox";

// TLS on the node APIs, as OOSE had it: a node serves HTTPS when it has a
// certificate, either OOSE's single PEM (`tls.pem`, key and certificate in one
// file) or a `tls.cert` + `tls.key` pair. `tls.ca` is the cluster CA: calls to
// other nodes are verified against it alone. Verification is never switched
// off (OOSE set NODE_TLS_REJECT_UNAUTHORIZED=0 for the whole process).

/**
 * HTTPS on the API port: OOSE's single `pem` (key + certificate) or a `cert` + `key` pair.
 * `ca` is the cluster CA: calls to other nodes trust it alone (unset: the system's CAs).
 */
export const TlsSchema = T.Object({
  pem: T.Optional(T.String()),
  cert: T.Optional(T.String()),
  key: T.Optional(T.String()),
  ca: T.Optional(T.String()),
});
export type TlsPaths = Static<typeof TlsSchema>;

export interface ServerTls {
  key: string;
  /** The certificate, followed by any intermediates. */
  cert: string;
}

export class TlsError extends Error {}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

function read(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new TlsError(`${what} (${file}): ${(err as Error).message}`);
  }
}

function blocks(pem: string): { label: string; text: string }[] {
  return [...pem.matchAll(BLOCK)].map((m) => ({ label: m[1]!, text: m[0] }));
}

/** Splits a PEM holding one private key and a certificate chain (OOSE's ssl.pem). */
export function splitPem(pem: string, source = "PEM"): ServerTls {
  const all = blocks(pem);
  const keys = all.filter((b) => b.label.endsWith("PRIVATE KEY"));
  const certs = all.filter((b) => b.label === "CERTIFICATE");
  if (keys.length !== 1) throw new TlsError(`${source}: expected one private key, found ${keys.length}`);
  if (certs.length === 0) throw new TlsError(`${source}: no certificate in it`);
  return { key: keys[0]!.text, cert: certs.map((c) => c.text).join("\n") };
}

/** The key must belong to the (first) certificate; a mismatch fails at start, not at the first handshake. */
function checkPair(tls: ServerTls, source: string): ServerTls {
  try {
    const cert = new X509Certificate(tls.cert);
    if (!cert.checkPrivateKey(createPrivateKey(tls.key))) throw new Error("the key does not match the certificate");
  } catch (err) {
    throw new TlsError(`${source}: ${(err as Error).message}`);
  }
  return tls;
}

/** What the node's HTTPS server needs, or undefined for plain HTTP. Throws TlsError on unreadable files. */
export function serverTls(tls: TlsPaths | undefined): ServerTls | undefined {
  if (tls?.pem) return checkPair(splitPem(read(tls.pem, "tls.pem"), `tls.pem (${tls.pem})`), `tls.pem (${tls.pem})`);
  if (tls?.cert && tls.key) {
    const keys = blocks(read(tls.key, "tls.key")).filter((b) => b.label.endsWith("PRIVATE KEY"));
    if (keys.length !== 1) throw new TlsError(`tls.key (${tls.key}): expected one private key, found ${keys.length}`);
    const key = keys[0]!.text;
    const certs = blocks(read(tls.cert, "tls.cert")).filter((b) => b.label === "CERTIFICATE");
    if (certs.length === 0) throw new TlsError(`tls.cert (${tls.cert}): no certificate in it`);
    return checkPair({ key, cert: certs.map((c) => c.text).join("\n") }, `tls.cert/tls.key (${tls.cert})`);
  }
  return undefined;
}

/** The cluster CA's certificates (PEM), or undefined when calls to nodes use the system's CAs. */
export function clusterCa(tls: TlsPaths | undefined): string | undefined {
  if (!tls?.ca) return undefined;
  const pem = read(tls.ca, "tls.ca");
  if (!blocks(pem).some((b) => b.label === "CERTIFICATE"))
    throw new TlsError(`tls.ca (${tls.ca}): no certificate in it`);
  return pem;
}

/** Config problems a schema cannot express. */
export function tlsProblems(tls: TlsPaths | undefined, advertiseUrl: string): string[] {
  if (!tls) return [];
  const problems: string[] = [];
  if (tls.pem && (tls.cert || tls.key)) problems.push("tls: set either pem or cert + key, not both");
  if (!tls.pem && Boolean(tls.cert) !== Boolean(tls.key)) problems.push("tls: cert and key go together");
  const serves = Boolean(tls.pem || (tls.cert && tls.key));
  if (serves && advertiseUrl.startsWith("http://"))
    problems.push("advertiseUrl: the node serves HTTPS (tls is set), so peers must reach it at https://");
  return problems;
}

/**
 * The cluster CA for a tool (the `oose` command), which calls nodes as nodes
 * do: OOSE_TLS__CA, or tls.ca in the OOSE_CONFIG file.
 */
export function toolCa(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let ca = env.OOSE_TLS__CA;
  if (!ca && env.OOSE_CONFIG) {
    try {
      ca = (JSON.parse(readFileSync(env.OOSE_CONFIG, "utf8")) as { tls?: { ca?: string } }).tls?.ca;
    } catch {
      ca = undefined; // the command's own config loading reports a bad file
    }
  }
  return clusterCa(ca ? { ca } : undefined);
}

import { generateKeyPair, randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import forge from "node-forge";
import { LABEL_PATTERN } from "../../app/config.js";

// The local cluster's certificates: one CA per cluster, created on first start
// in <data>/tls and kept, and a certificate per node (and the front nginx)
// signed by it, valid for the node's name, localhost and 127.0.0.1. Nodes
// verify each other against this CA only. Keys come from node:crypto;
// node-forge only assembles and signs the certificates.

export interface ClusterPki {
  dir: string;
  /** Path of the CA certificate (PEM): what clients and nodes trust. */
  ca: string;
  cert(name: string): string;
  key(name: string): string;
}

const DAY = 86_400_000;
const CA_DAYS = 3650;
const NODE_DAYS = 825;
/** A certificate that expires sooner than this is replaced on start. */
const RENEW_BEFORE = 30 * DAY;
const NAME = new RegExp(LABEL_PATTERN);

const keyPair = promisify(generateKeyPair);

/** RSA 2048 (node-forge signs only RSA); generated off the main thread, so several run at once. */
async function rsaKey(): Promise<{ pem: string; key: forge.pki.rsa.PrivateKey }> {
  const { privateKey } = await keyPair("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { pem: privateKey, key: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey };
}

function newCert(publicKey: forge.pki.PublicKey, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // 16 random bytes as a minimal positive DER integer: a first byte of 0x01..0x7f needs no 00 before it,
  // and 00 + a random 00 byte is a padded integer OpenSSL refuses to load (one certificate in 256).
  const serial = randomBytes(16);
  serial[0] = (serial[0]! % 0x7f) + 1;
  cert.serialNumber = serial.toString("hex");
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 5 * 60_000);
  cert.validity.notAfter = new Date(now + days * DAY);
  return cert;
}

const publicOf = (k: forge.pki.rsa.PrivateKey) => forge.pki.setRsaPublicKey(k.n, k.e);

export async function createCa(): Promise<{ cert: string; key: string }> {
  const { pem, key } = await rsaKey();
  const cert = newCert(publicOf(key), CA_DAYS);
  const subject = [
    { name: "commonName", value: `OOSE local cluster CA ${randomBytes(4).toString("hex")}` },
    { name: "organizationName", value: "OOSE" },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: pem };
}

/** A server (and client) certificate for `name`, signed by the CA. */
export async function issueCert(
  ca: { cert: string; key: string },
  name: string,
  hosts: string[] = ["localhost", "127.0.0.1", "::1"],
): Promise<{ cert: string; key: string }> {
  const { pem, key } = await rsaKey();
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const cert = newCert(publicOf(key), NODE_DAYS);
  cert.setSubject([{ name: "commonName", value: name }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [...new Set([name, ...hosts])].map((h) =>
    /^[\d.]+$/.test(h) || h.includes(":") ? { type: 7, ip: h } : { type: 2, value: h },
  );
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    { name: "subjectAltName", altNames },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: pem };
}

/** Writes via a temp name, so a crash never leaves half a key; keys are 0600. */
function writeAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

function usable(certFile: string, keyFile: string, issuer?: X509Certificate): boolean {
  if (!existsSync(certFile) || !existsSync(keyFile)) return false;
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    if (Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE) return false;
    if (issuer && !cert.verify(issuer.publicKey)) return false;
    return true;
  } catch {
    return false;
  }
}

/**
 * The CA and a certificate for each name under `dir`: created on first use,
 * reused afterwards. A missing, expiring or foreign certificate is replaced;
 * a new CA replaces every node certificate.
 */
export async function ensureClusterPki(dir: string, names: string[]): Promise<ClusterPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return withLock(path.join(dir, ".lock"), () => ensureUnlocked(dir, names));
}

/** Several processes may share a directory (test files do): one creates, the others then reuse. */
async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let owner = 0;
      try {
        owner = Number(readFileSync(file, "utf8") || 0);
      } catch {
        continue; // released meanwhile: try again
      }
      if (owner && !alive(owner)) rmSync(file, { force: true });
      else if (Date.now() > deadline) throw new Error(`${file} is held by pid ${owner}`);
      else await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function ensureUnlocked(dir: string, names: string[]): Promise<ClusterPki> {
  const caCert = path.join(dir, "ca.crt");
  const caKey = path.join(dir, "ca.key");
  if (!usable(caCert, caKey)) {
    const ca = await createCa();
    writeAtomic(caKey, ca.key, 0o600);
    writeAtomic(caCert, ca.cert, 0o644);
  }
  const ca = { cert: readFileSync(caCert, "utf8"), key: readFileSync(caKey, "utf8") };
  const issuer = new X509Certificate(ca.cert);
  const pki = pkiPaths(dir);
  for (const name of names) if (!NAME.test(name)) throw new Error(`certificate name ${name} is not a DNS label`);
  const missing = [...new Set(names)].filter((name) => !usable(pki.cert(name), pki.key(name), issuer));
  await Promise.all(
    missing.map(async (name) => {
      const issued = await issueCert(ca, name);
      writeAtomic(pki.key(name), issued.key, 0o600);
      writeAtomic(pki.cert(name), issued.cert, 0o644);
    }),
  );
  return pki;
}

/** Where ensureClusterPki keeps the files under `dir` (nothing is created). */
export function pkiPaths(dir: string): ClusterPki {
  return {
    dir,
    ca: path.join(dir, "ca.crt"),
    cert: (name) => path.join(dir, `${name}.crt`),
    key: (name) => path.join(dir, `${name}.key`),
  };
}

import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

// What the tls provider would answer, made for real (keys from node:crypto,
// certificates signed with node-forge), so the replay's containers get
// certificates that verify. Inputs arrive as the provider receives them.

type Inputs = Record<string, unknown>;
const DAY = 86_400_000;

function newKey(): string {
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs1",
    format: "pem",
  }) as string;
}

function certificate(publicKey: forge.pki.PublicKey, hours: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // DER wants the shortest positive integer: a first byte of 0x01..0x7f needs no 00 before it (forge's
  // 00 + a random 00.. byte made a padded integer OpenSSL refuses, one certificate in 256).
  const serial = randomBytes(16);
  serial[0] = (serial[0]! % 0x7f) + 1;
  cert.serialNumber = serial.toString("hex");
  cert.validity.notBefore = new Date(Date.now() - 5 * 60_000);
  cert.validity.notAfter = new Date(Date.now() + Math.min(hours * 3_600_000, 3650 * DAY));
  return cert;
}

const subjectOf = (i: Inputs) => {
  const s = (i.subject ?? {}) as { commonName?: string; organization?: string };
  return [
    ...(s.commonName ? [{ name: "commonName", value: s.commonName }] : []),
    ...(s.organization ? [{ name: "organizationName", value: s.organization }] : []),
  ];
};

const altNames = (i: Inputs) => [
  ...((i.dnsNames as string[] | undefined) ?? []).map((value) => ({ type: 2, value })),
  ...((i.ipAddresses as string[] | undefined) ?? []).map((ip) => ({ type: 7, ip })),
];

function selfSigned(i: Inputs): string {
  const key = forge.pki.privateKeyFromPem(String(i.privateKeyPem)) as forge.pki.rsa.PrivateKey;
  const cert = certificate(forge.pki.setRsaPublicKey(key.n, key.e), Number(i.validityPeriodHours));
  cert.setSubject(subjectOf(i));
  cert.setIssuer(subjectOf(i));
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A CSR carries the subject and names; the signed certificate takes them from it. */
function certRequest(i: Inputs): string {
  const key = forge.pki.privateKeyFromPem(String(i.privateKeyPem)) as forge.pki.rsa.PrivateKey;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  csr.setSubject(subjectOf(i));
  csr.setAttributes([{ name: "extensionRequest", extensions: [{ name: "subjectAltName", altNames: altNames(i) }] }]);
  csr.sign(key, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

function locallySigned(i: Inputs): string {
  const csr = forge.pki.certificationRequestFromPem(String(i.certRequestPem));
  const caCert = forge.pki.certificateFromPem(String(i.caCertPem));
  const caKey = forge.pki.privateKeyFromPem(String(i.caPrivateKeyPem));
  const cert = certificate(csr.publicKey!, Number(i.validityPeriodHours));
  cert.setSubject(csr.subject.attributes);
  cert.setIssuer(caCert.subject.attributes);
  const requested = (csr.getAttribute({ name: "extensionRequest" }) as { extensions?: object[] } | null)?.extensions;
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    ...(requested ?? []),
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/**
 * The tls provider's outputs for `type`, or undefined for another provider's type. A key is made once per
 * resource name and a certificate once per inputs in this process: the tests deploy the same stacks many
 * times, and signing in JS takes most of a deployment's time.
 */
export function tlsOutputs(type: string, name: string, inputs: Inputs): Record<string, unknown> | undefined {
  const make = MAKERS[type];
  if (!make) return undefined;
  const id = type === KEY ? `${type}/${name}` : `${type}/${JSON.stringify(inputs)}`;
  let out = made.get(id);
  if (!out) {
    out = make(inputs);
    made.set(id, out);
  }
  return out;
}

const KEY = "tls:index/privateKey:PrivateKey";
const made = new Map<string, Record<string, unknown>>();
const MAKERS: Record<string, (i: Inputs) => Record<string, unknown>> = {
  [KEY]: () => ({ privateKeyPem: newKey() }),
  "tls:index/selfSignedCert:SelfSignedCert": (i) => ({ certPem: selfSigned(i) }),
  "tls:index/certRequest:CertRequest": (i) => ({ certRequestPem: certRequest(i) }),
  "tls:index/locallySignedCert:LocallySignedCert": (i) => ({ certPem: locallySigned(i) }),
};

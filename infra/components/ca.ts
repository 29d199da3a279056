import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

// The cluster CA: one per stack, shared by every TLS hop inside the cluster
// (the prism and store APIs, and CouchDB, Redis and Sentinel), as the local
// cluster's infra/local/pki.ts is. Keys are made by the tls provider and kept
// in state; every key leaves this file as a secret Output only. RSA 2048, as
// the local cluster's, so every client (Node, nginx, Redis, Erlang) takes it.

const CA_HOURS = 10 * 365 * 24;
const NODE_HOURS = 825 * 24;
/** `pulumi up` replaces a node certificate this long before it expires. */
const RENEW_HOURS = 30 * 24;

export interface IssuedCertificate {
  /** PEM, plain: a certificate is public. */
  cert: pulumi.Output<string>;
  /** PEM, secret. */
  key: pulumi.Output<string>;
}

export class ClusterCa extends pulumi.ComponentResource {
  /** The CA certificate (PEM): what every node and client trusts. */
  readonly cert: pulumi.Output<string>;
  private readonly key: pulumi.Output<string>;

  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:ClusterCa", name, {}, opts);
    const key = new tls.PrivateKey(`${name}-key`, { algorithm: "RSA", rsaBits: 2048 }, { parent: this });
    this.key = pulumi.secret(key.privateKeyPem);
    const ca = new tls.SelfSignedCert(
      `${name}-cert`,
      {
        privateKeyPem: this.key,
        isCaCertificate: true,
        setSubjectKeyId: true,
        validityPeriodHours: CA_HOURS,
        allowedUses: ["cert_signing", "crl_signing"],
        subject: { commonName: `OOSE cluster CA ${pulumi.getStack()}`, organization: "OOSE" },
      },
      { parent: this },
    );
    this.cert = ca.certPem;
    this.registerOutputs({ cert: this.cert });
  }

  /**
   * A server and client certificate for `name`, valid for `dnsNames` and
   * `ips` (what peers dial), signed by this CA. Resources are named after it.
   */
  nodeCertificate(name: string, dnsNames: string[], ips: string[] = []): IssuedCertificate {
    const opts = { parent: this };
    const key = new tls.PrivateKey(`${name}-tls-key`, { algorithm: "RSA", rsaBits: 2048 }, opts);
    const keyPem = pulumi.secret(key.privateKeyPem);
    const csr = new tls.CertRequest(
      `${name}-tls-csr`,
      { privateKeyPem: keyPem, subject: { commonName: name }, dnsNames, ipAddresses: ips },
      opts,
    );
    const cert = new tls.LocallySignedCert(
      `${name}-tls-cert`,
      {
        certRequestPem: csr.certRequestPem,
        caPrivateKeyPem: this.key,
        caCertPem: this.cert,
        validityPeriodHours: NODE_HOURS,
        earlyRenewalHours: RENEW_HOURS,
        allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
      },
      opts,
    );
    return { cert: cert.certPem, key: keyPem };
  }
}

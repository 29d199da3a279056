import type * as pulumi from "@pulumi/pulumi";
import type { Service } from "../layout.js";
import type { ClusterCa, IssuedCertificate } from "./ca.js";

// A prism's or store's certificate from the cluster CA, for every name it is
// dialled by: its container name (one host), its host's address (many hosts),
// and 127.0.0.1 for its own health check. Every prism also carries the name
// the front verifies them by, as nginx checks one name for an upstream group.

export const PRISM_TLS_NAME = "prisms.oose.internal";

const IP = /^\d{1,3}(\.\d{1,3}){3}$/;

export function nodeTls(ca: ClusterCa, s: Service): IssuedCertificate & { ca: pulumi.Output<string> } {
  const address = s.host.address;
  const dns = [s.container, "localhost", ...(s.kind === "prism" ? [PRISM_TLS_NAME] : [])];
  const issued = IP.test(address)
    ? ca.nodeCertificate(s.container, dns, ["127.0.0.1", address])
    : ca.nodeCertificate(s.container, [...dns, address], ["127.0.0.1"]);
  return { ...issued, ca: ca.cert };
}

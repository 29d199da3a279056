import { isIP } from "node:net";
import { block, intToIp, ipToInt } from "../../infra/ipv4.js";

// Names without podman's DNS. Debian's podman 4.3 ships aardvark-dns 1.4,
// which serves a network's queries one at a time and forwards unknown ones
// to the host's (here unreachable) resolvers: on a busy one-host network a
// lookup can stall for tens of seconds, and a job waiting on a name gives up.
// Docker's embedded DNS has no such stall, so the replay gives every
// container an address up front (a declared one is kept) and writes every
// name and alias on its network into each container's /etc/hosts.

export interface Attachment {
  container: string;
  network: string;
  names: string[];
  /** The address the program declared, if any. */
  ip?: string;
}

export interface AddressBook {
  /** The address of `container` on `network`. */
  ip(container: string, network: string): string;
  /** `name:ip` for every name on `network` (an address given as an alias is none), as --add-host takes them. */
  hosts(network: string): string[];
}

/** [first, last] address of a CIDR block as integers. */
function span(cidr: string): [number, number] {
  const { base, size } = block(cidr);
  return [base, base + size - 1];
}

/**
 * Hands out addresses per network in attachment order, from its ip-range (or
 * its subnet), past the subnet's network address, gateway and broadcast and
 * every declared address.
 */
export function addressBook(
  attachments: Attachment[],
  networks: { name: string; subnet?: string; ipRange?: string }[],
): AddressBook {
  const ips = new Map<string, string>();
  const key = (container: string, network: string) => `${container}@${network}`;
  for (const net of networks) {
    const on = attachments.filter((a) => a.network === net.name);
    if (!on.length) continue;
    if (!net.subnet) throw new Error(`network ${net.name}: the replay needs its subnet to give out addresses`);
    const [subnetFirst, subnetLast] = span(net.subnet);
    const taken = new Set([subnetFirst, subnetFirst + 1, subnetLast]);
    for (const a of on.filter((x) => x.ip)) taken.add(ipToInt(a.ip!));
    let [next, last] = span(net.ipRange ?? net.subnet);
    for (const a of on) {
      if (a.ip) {
        ips.set(key(a.container, net.name), a.ip);
        continue;
      }
      while (taken.has(next)) next++;
      if (next > last) throw new Error(`network ${net.name}: no address left for ${a.container}`);
      taken.add(next);
      ips.set(key(a.container, net.name), intToIp(next));
    }
  }
  return {
    ip(container, network) {
      const ip = ips.get(key(container, network));
      if (!ip) throw new Error(`${container} has no address on ${network}`);
      return ip;
    },
    hosts(network) {
      return attachments
        .filter((a) => a.network === network)
        .flatMap((a) => a.names.filter((n) => isIP(n) === 0).map((n) => `${n}:${ips.get(key(a.container, network))}`));
    },
  };
}

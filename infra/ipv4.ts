// IPv4 addresses as integers, for the addressing of a host's Docker network
// (the stack's fixed addresses, and the replay's for every other container).

export const ipToInt = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
export const intToIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

/** A CIDR block: its first address (as an integer, host bits cleared), size and prefix length. */
export function block(cidr: string): { base: number; size: number; bits: number } {
  const [ip, prefix] = cidr.split("/") as [string, string];
  const bits = Number(prefix);
  const size = 2 ** (32 - bits);
  return { base: ipToInt(ip) - (ipToInt(ip) % size), size, bits };
}

import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

function normalize(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!ipaddr.isValid(address)) return undefined;
  const parsed = ipaddr.parse(address);
  // ::ffff:10.0.0.1 is 10.0.0.1: compare IPv4-mapped addresses as IPv4.
  return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()
    ? (parsed as ipaddr.IPv6).toIPv4Address()
    : parsed;
}

export function parseRange(text: string): Range | undefined {
  try {
    if (text.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(text);
      return [addr, bits];
    }
    const addr = normalize(text);
    return addr ? [addr, addr.kind() === 'ipv4' ? 32 : 128] : undefined;
  } catch {
    return undefined;
  }
}

export function isValidRange(text: string): boolean {
  return parseRange(text) !== undefined;
}

/** A matcher over IPv4/IPv6 addresses and CIDR ranges; IPv4-mapped IPv6 addresses match their IPv4 form. */
export function createIpMatcher(ranges: readonly string[]): (address: string | undefined | null) => boolean {
  const parsed = ranges.map(parseRange).filter((r): r is Range => r !== undefined);
  return (address) => {
    if (!address) return false;
    const addr = normalize(address);
    if (!addr) return false;
    return parsed.some(([net, bits]) => addr.kind() === net.kind() && addr.match([net, bits] as never));
  };
}

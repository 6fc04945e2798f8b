import ipaddr from 'ipaddr.js';
import { createIpMatcher } from './cidr.ts';

/**
 * Which addresses an outbound request may reach. Only globally routable
 * unicast addresses pass: loopback, private (RFC 1918, fc00::/7), link-local
 * (which holds the 169.254.169.254 metadata service), CGNAT (100.64/10, which
 * holds Alibaba's 100.100.100.200), unspecified, broadcast, multicast,
 * reserved, documentation, benchmarking and the IPv6 transition ranges that
 * embed an IPv4 address (NAT64, 6to4, Teredo) are refused, as are the
 * cloud-metadata addresses listed below whatever range they fall in.
 */
const METADATA = createIpMatcher([
  '169.254.169.254/32', // AWS, GCP, Azure, OpenStack, DigitalOcean
  '169.254.170.2/32', // AWS ECS task metadata
  'fd00:ec2::254/128', // AWS IPv6 metadata
  '100.100.100.200/32', // Alibaba Cloud
  '192.0.0.192/32', // Oracle Cloud
]);

/** Ranges ipaddr.js calls `unicast` but which must not be reached from a server either. */
const EXTRA_BLOCKED = createIpMatcher([
  '0.0.0.0/8',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '240.0.0.0/4',
  '64:ff9b::/96',
  '64:ff9b:1::/48',
  '100::/64',
  '2001:db8::/32',
]);

/** Why an address is refused, or `undefined` when it is a public unicast address. */
export function blockedReason(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const text = parsed.toString();
  if (METADATA(text)) return 'cloud metadata address';
  const range = parsed.range();
  if (range !== 'unicast') return `${range} address`;
  if (EXTRA_BLOCKED(text)) return 'reserved address';
  return undefined;
}

export interface Allowlist {
  /** The host name (lower case, no brackets) is listed by name. */
  hostAllowed(host: string): boolean;
  /** The address falls in a listed CIDR (or is a listed address). */
  addressAllowed(address: string): boolean;
}

/** `LATCHKEY_OUTBOUND_ALLOWLIST`: host names and CIDR ranges, comma-separated. */
export function parseAllowlist(entries: readonly string[]): Allowlist {
  const hosts = new Set<string>();
  const ranges: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    const bare = entry.replace(/^\[(.*)\]$/, '$1');
    if (ipaddr.isValid(bare) || bare.includes('/')) ranges.push(bare);
    else hosts.add(bare);
  }
  const matchRange = createIpMatcher(ranges);
  return {
    hostAllowed: (host) => hosts.has(host.toLowerCase()),
    addressAllowed: (address) => matchRange(address),
  };
}

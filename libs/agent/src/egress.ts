import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ToolError } from './tool-error.js';

/** Where HTTP tools may go: the `tools` section of Keel's config. */
export interface EgressRules {
  /** Host names (`api.example.com`), `*.example.com` (any subdomain, not the apex) or `*`. */
  allowedHosts: readonly string[];
  /** Lets tools reach private, loopback and CGNAT addresses (tests, on-prem services). */
  allowPrivateNetworks: boolean;
}

type Range = [network: string, prefix: number, family: 'ipv4' | 'ipv6'];

/**
 * Private, loopback, CGNAT, special-purpose and site- or unique-local ranges: refused unless
 * allowPrivateNetworks.
 */
const PRIVATE: Range[] = [
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  // IETF protocol assignments (DS-Lite's B4/AFTR, NAT64 discovery) and benchmarking networks:
  // not globally reachable, so on a network that routes them they are somebody's internal hosts.
  ['192.0.0.0', 24, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['::1', 128, 'ipv6'],
  // Unique-local, and site-local (deprecated, but still the same kind of network where used).
  ['fc00::', 7, 'ipv6'],
  ['fec0::', 10, 'ipv6'],
  // NAT64 local-use prefix (RFC 8215): a translator of this network, not globally reachable.
  ['64:ff9b:1::', 48, 'ipv6'],
];

/**
 * Refused always: link-local (cloud metadata at 169.254.169.254 lives there), "this network" and
 * unspecified, multicast and reserved, documentation and discard-only ranges, the retired 6to4
 * relay anycast, ORCHID identifiers, and Teredo (a tunnel through a relay, whose embedded
 * addresses are obfuscated). No tool has a reason to call them, on-prem included (the IANA
 * special-purpose address registries, RFC 6890).
 */
const NEVER: Range[] = [
  ['169.254.0.0', 16, 'ipv4'],
  ['0.0.0.0', 8, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
  ['::', 128, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
  ['2001::', 32, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['3fff::', 20, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001:10::', 28, 'ipv6'],
  ['2001:20::', 28, 'ipv6'],
];

function blockList(ranges: Range[]): BlockList {
  const list = new BlockList();
  for (const [network, prefix, family] of ranges) list.addSubnet(network, prefix, family);
  return list;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted tail as two groups). */
function ipv6Groups(address: string): number[] {
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = address.indexOf('::');
  if (gap < 0) return groups(address);
  const head = groups(address.slice(0, gap));
  const tail = groups(address.slice(gap + 2));
  return [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

const ipv4Of = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;

/**
 * The IPv4 address an IPv6 address stands for, when it is one of the forms that reach an IPv4
 * host: IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d` (SIIT), the deprecated
 * IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and its local-use `64:ff9b:1::/48` (RFC 6052,
 * RFC 8215), and 6to4 `2002:AABB:CCDD::/48` (bits 16-47). A local-use NAT64 prefix may be any of
 * RFC 6052's lengths; the address is read as the /96 every deployment seen uses, and the range is
 * private besides, so another layout is refused unless private networks are allowed.
 */
export function embeddedIPv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && g[5] === 0xffff) return ipv4Of(g[6], g[7]);
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return ipv4Of(g[6], g[7]);
  // `::` and `::1` are IPv6's own unspecified and loopback addresses, judged as such.
  if (zero(0, 6) && (g[6] !== 0 || g[7] > 1)) return ipv4Of(g[6], g[7]);
  if (g[0] === 0x64 && g[1] === 0xff9b && (zero(2, 6) || g[2] === 1)) return ipv4Of(g[6], g[7]);
  if (g[0] === 0x2002) return ipv4Of(g[1], g[2]);
  return undefined;
}

/**
 * The egress rules of HTTP tools. The host allow-list is checked on the URL; the address rules
 * on every address the name resolves to, inside the socket's own `lookup`, so the address checked
 * is the address connected to and a DNS answer that changes between check and connect (rebinding)
 * cannot reach a forbidden network.
 */
export class EgressPolicy {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly any: boolean;
  private readonly private = blockList(PRIVATE);
  private readonly never = blockList(NEVER);

  constructor(readonly rules: EgressRules) {
    for (const raw of rules.allowedHosts) {
      const host = normalizeHost(raw);
      if (host === '') continue;
      if (host.startsWith('*.')) this.suffixes.push(host.slice(1));
      else if (host !== '*') this.exact.add(host);
    }
    this.any = rules.allowedHosts.some((h) => h.trim() === '*');
  }

  /** Whether the allow-list names this host (a name or an IP literal as written in the URL). */
  hostAllowed(hostname: string): boolean {
    const host = normalizeHost(hostname);
    return this.any || this.exact.has(host) || this.suffixes.some((s) => host.endsWith(s));
  }

  /**
   * Why this address may not be reached, or undefined when it may. An IPv6 address that carries
   * an IPv4 one (see embeddedIPv4) is judged by both: `64:ff9b::a9fe:a9fe` is the metadata
   * address through NAT64, not a public IPv6 host.
   */
  addressForbidden(address: string): string | undefined {
    // A scope (`fe80::1%eth0`) says which interface, not which address.
    const bare = address.replace(/%.*$/, '');
    const family = isIP(bare);
    if (family === 0) return `${address} is not an IP address`;
    const embedded = family === 6 ? embeddedIPv4(bare) : undefined;
    const subjects: Array<[string, 'ipv4' | 'ipv6']> = [[bare, family === 4 ? 'ipv4' : 'ipv6']];
    if (embedded !== undefined) subjects.push([embedded, 'ipv4']);
    const what = embedded === undefined ? address : `${address} (IPv4 ${embedded})`;
    if (subjects.some(([a, type]) => this.never.check(a, type))) {
      return `${what} is a link-local, unspecified, multicast, reserved, documentation or Teredo address`;
    }
    if (
      !this.rules.allowPrivateNetworks &&
      subjects.some(([a, type]) => this.private.check(a, type))
    ) {
      return `${what} is a private, loopback, CGNAT or unique-local address (KEEL_TOOL_ALLOW_PRIVATE_NETWORKS is off)`;
    }
    return undefined;
  }

  /**
   * Throws TOOL_HOST_FORBIDDEN unless the URL is http(s), its host is allowed and, when the host
   * is an IP literal (which no lookup will see), the address is allowed.
   */
  checkUrl(url: URL): void {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw forbidden(`${url.protocol} URLs are not allowed`);
    }
    const host = normalizeHost(url.hostname);
    if (!this.hostAllowed(host)) {
      throw forbidden(`${host} is not in the allowed hosts (KEEL_TOOL_ALLOWED_HOSTS)`);
    }
    if (isIP(host) !== 0) {
      const reason = this.addressForbidden(host);
      if (reason) throw forbidden(reason);
    }
  }

  /**
   * A `lookup` for sockets: resolves every address (dns.lookup all:true) and refuses the host if
   * any of them is forbidden, rather than connecting to the allowed subset: a name that answers
   * with an internal address is not a name to trust.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      for (const { address } of addresses) {
        const reason = this.addressForbidden(address);
        if (reason) return callback(forbidden(`${hostname} resolves to ${reason}`), '', 0);
      }
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} has no address`), '', 0);
      if (options.all) return callback(null, addresses);
      callback(null, first.address, first.family);
    });
  };
}

function forbidden(message: string): ToolError {
  return new ToolError('TOOL_HOST_FORBIDDEN', message);
}

/** Lower case, without IPv6 brackets or a trailing dot (`Example.COM.` is `example.com`). */
function normalizeHost(host: string): string {
  let out = host.trim().toLowerCase();
  if (out.startsWith('[') && out.endsWith(']')) out = out.slice(1, -1);
  if (out.endsWith('.')) out = out.slice(0, -1);
  return out;
}

/** `KEEL_TOOL_ALLOWED_HOSTS` as a list. */
export function parseAllowedHosts(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
}

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

/** Private, loopback and CGNAT ranges: refused unless allowPrivateNetworks. */
const PRIVATE: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
  ['::1', 128, 'ipv6'],
];

/**
 * Refused always: link-local (cloud metadata at 169.254.169.254 lives there), "this network" and
 * unspecified, multicast and reserved. No tool has a reason to call them, on-prem included.
 */
const NEVER: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['169.254.0.0', 16, 'ipv4'],
  ['0.0.0.0', 8, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
  ['::', 128, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

function blockList(ranges: Array<[string, number, 'ipv4' | 'ipv6']>): BlockList {
  const list = new BlockList();
  for (const [network, prefix, family] of ranges) {
    list.addSubnet(network, prefix, family);
    // Node's BlockList matches IPv4-mapped IPv6 (::ffff:127.0.0.1) against IPv4 rules already;
    // the explicit mapped range keeps that true should it change.
    if (family === 'ipv4') list.addSubnet(`::ffff:${network}`, 96 + prefix, 'ipv6');
  }
  return list;
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

  /** Why this address may not be reached, or undefined when it may. */
  addressForbidden(address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return `${address} is not an IP address`;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.never.check(address, type))
      return `${address} is a link-local, unspecified or reserved address`;
    if (!this.rules.allowPrivateNetworks && this.private.check(address, type)) {
      return `${address} is a private, loopback or CGNAT address (KEEL_TOOL_ALLOW_PRIVATE_NETWORKS is off)`;
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

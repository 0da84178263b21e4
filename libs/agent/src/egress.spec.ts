import { describe, expect, it } from 'vitest';
import { EgressPolicy, embeddedIPv4 } from './egress.js';

describe('egress address rules', () => {
  // never: refused always; private: refused unless private networks are allowed; public: allowed.
  const ADDRESSES: Array<[address: string, kind: 'never' | 'private' | 'public']> = [
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.169.254', 'never'],
    ['0.0.0.0', 'never'],
    ['224.0.0.1', 'never'],
    ['255.255.255.255', 'never'],
    // Special-purpose IPv4 (RFC 6890): protocol assignments and benchmarking are somebody's
    // internal network; documentation and the retired 6to4 relay anycast are never a host.
    ['192.0.0.8', 'private'],
    ['198.18.0.1', 'private'],
    ['198.19.255.255', 'private'],
    ['198.20.0.1', 'public'],
    ['192.0.2.1', 'never'],
    ['198.51.100.7', 'never'],
    ['203.0.113.9', 'never'],
    ['192.88.99.1', 'never'],
    ['192.0.1.1', 'public'],
    // IPv6 on its own
    ['2606:4700::1111', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['::1', 'private'],
    ['fc00::1', 'private'],
    ['fd00::1', 'private'],
    ['fec0::1', 'private'],
    ['feff::1', 'private'],
    ['fe80::1', 'never'],
    ['fe80::1%eth0', 'never'],
    ['::', 'never'],
    ['ff02::1', 'never'],
    ['ff0e::2', 'never'],
    // Teredo
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'never'],
    ['2001::1', 'never'],
    // Documentation (both prefixes), discard-only, ORCHID
    ['2001:db8::1', 'never'],
    ['3fff:123::1', 'never'],
    ['100::1', 'never'],
    ['2001:10::1', 'never'],
    ['2001:20::1', 'never'],
    ['2001:db9::1', 'public'],
    // The IPv4 special-purpose ranges through an IPv4-mapped address
    ['::ffff:198.18.0.1', 'private'],
    ['64:ff9b::192.0.2.1', 'never'],
    // IPv4-mapped, dotted and hex
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:808:808', 'public'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:7f00:1', 'private'],
    ['::ffff:169.254.169.254', 'never'],
    ['::ffff:a9fe:a9fe', 'never'],
    // IPv4-translated (SIIT) and the deprecated IPv4-compatible form
    ['::ffff:0:8.8.8.8', 'public'],
    ['::ffff:0:127.0.0.1', 'private'],
    ['::ffff:0:a9fe:a9fe', 'never'],
    ['::8.8.8.8', 'public'],
    ['::127.0.0.1', 'private'],
    ['::169.254.169.254', 'never'],
    ['::2', 'never'],
    // NAT64, well-known prefix: the embedded address decides
    ['64:ff9b::8.8.8.8', 'public'],
    ['64:ff9b::808:808', 'public'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::7f00:1', 'private'],
    ['64:ff9b::169.254.169.254', 'never'],
    ['64:ff9b::a9fe:a9fe', 'never'],
    // NAT64, local-use prefix: private itself, and never what never is
    ['64:ff9b:1::8.8.8.8', 'private'],
    ['64:ff9b:1:abcd::10.0.0.1', 'private'],
    ['64:ff9b:1::a9fe:a9fe', 'never'],
    // 6to4: the IPv4 address is bits 16-47
    ['2002:808:808::1', 'public'],
    ['2002:a00:1::1', 'private'],
    ['2002:c0a8:101::', 'private'],
    ['2002:7f00:1:ffff::1', 'private'],
    ['2002:a9fe:a9fe::1', 'never'],
    ['2002:e000:1::', 'never'],
  ];

  it.each(ADDRESSES)('classifies %s as %s', (address, kind) => {
    const strict = new EgressPolicy({ allowedHosts: [], allowPrivateNetworks: false });
    const open = new EgressPolicy({ allowedHosts: [], allowPrivateNetworks: true });
    expect(strict.addressForbidden(address) !== undefined, 'refused by default').toBe(
      kind !== 'public',
    );
    expect(open.addressForbidden(address) !== undefined, 'refused with private networks').toBe(
      kind === 'never',
    );
  });

  it('names the IPv4 address an IPv6 address carries', () => {
    const open = new EgressPolicy({ allowedHosts: [], allowPrivateNetworks: true });
    expect(open.addressForbidden('64:ff9b::a9fe:a9fe')).toBe(
      '64:ff9b::a9fe:a9fe (IPv4 169.254.169.254) is a link-local, unspecified, multicast, reserved, documentation or Teredo address',
    );
    expect(open.addressForbidden('not-an-ip')).toMatch(/not an IP address/);
  });

  it('reads the IPv4 address out of each transition form', () => {
    expect(embeddedIPv4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(embeddedIPv4('64:ff9b::169.254.169.254')).toBe('169.254.169.254');
    expect(embeddedIPv4('64:ff9b:1:abcd::a00:1')).toBe('10.0.0.1');
    expect(embeddedIPv4('2002:c0a8:101:1:2:3:4:5')).toBe('192.168.1.1');
    expect(embeddedIPv4('1:2:3:4:5:6:7:8')).toBeUndefined();
    expect(embeddedIPv4('::1')).toBeUndefined();
    expect(embeddedIPv4('2001:4860:4860::8888')).toBeUndefined();
  });
});

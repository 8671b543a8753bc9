import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where webhooks may not go: anything but the public internet. A tenant could otherwise point an
 * endpoint at the service's own network (a database, a cloud metadata service) and read it
 * through the delivery log. IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are matched against the
 * IPv4 rules by BlockList itself.
 */
const BLOCKED = new BlockList();
const V4: ReadonlyArray<[string, number, string]> = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT (also Alibaba Cloud metadata)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata 169.254.169.254)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments (Oracle Cloud metadata)'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved and broadcast'],
  ['168.63.129.16', 32, 'Azure platform endpoint'],
];
const V6: ReadonlyArray<[string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'IPv4-compatible (deprecated)'],
  ['64:ff9b:1::', 48, 'local-use NAT64'],
  ['100::', 64, 'discard-only'],
  ['2001::', 23, 'IETF protocol assignments (Teredo and others)'],
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4 (embeds an IPv4 address)'],
  ['3fff::', 20, 'documentation'],
  ['fc00::', 7, 'unique local (AWS metadata fd00:ec2::254)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast'],
];
for (const [network, prefix] of V4) BLOCKED.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of V6) BLOCKED.addSubnet(network, prefix, 'ipv6');

const NAT64 = new BlockList();
NAT64.addSubnet('64:ff9b::', 96, 'ipv6');

/** True for an address webhooks must not reach. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true;
  // Well-known-prefix NAT64 carries an IPv4 address in its last 32 bits: judge that address.
  if (NAT64.check(address, 'ipv6')) return isBlockedAddress(nat64Ipv4(address));
  return BLOCKED.check(address, 'ipv6');
}

function nat64Ipv4(address: string): string {
  // URL normalises the address to lower-case hex groups, the last two of which are the IPv4 bits.
  const groups = new URL(`http://[${address}]/`).hostname.slice(1, -1).split(':');
  const [high, low] = groups.slice(-2).map((g) => parseInt(g || '0', 16));
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

export type TargetRule = 'private_target' | 'unresolvable_host';

export class TargetRefusedError extends Error {
  constructor(
    readonly rule: TargetRule,
    message: string,
  ) {
    super(message);
  }
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** The host of a URL without the brackets of an IPv6 literal. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Resolves the URL's host and refuses it if any of its addresses is blocked (a name with one
 * public and one private address is refused: the connection could go to either). The caller
 * connects to exactly these addresses, so DNS cannot answer differently between check and use.
 */
export async function resolveTarget(
  url: URL,
  options: { allowPrivate: boolean; timeoutMs: number },
): Promise<ResolvedAddress[]> {
  const host = hostOf(url);
  const literal = isIP(host);
  const addresses = literal
    ? [{ address: host, family: literal as 4 | 6 }]
    : await resolveName(host, options.timeoutMs);
  if (!options.allowPrivate) {
    const blocked = addresses.find((a) => isBlockedAddress(a.address));
    if (blocked) {
      throw new TargetRefusedError(
        'private_target',
        `${host} ${literal ? 'is' : `resolves to ${blocked.address}, which is`} a private, loopback, link-local or reserved address; webhooks go to public addresses only`,
      );
    }
  }
  return addresses;
}

async function resolveName(host: string, timeoutMs: number): Promise<ResolvedAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const answers = await Promise.race([
      lookup(host, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), timeoutMs);
      }),
    ]);
    if (answers.length === 0) throw Object.assign(new Error('no addresses'), { code: 'ENODATA' });
    return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new TargetRefusedError('unresolvable_host', `cannot resolve ${host} (${code})`);
  } finally {
    clearTimeout(timer);
  }
}

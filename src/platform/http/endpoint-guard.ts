import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Which replica endpoints a provider may report. A service's gateway sends tenants' requests to
 * the endpoint a provider's agent reported, so an endpoint on the market host itself (loopback),
 * on the cloud's metadata service (link-local) or on no host at all would let a provider aim the
 * gateway at the market's own network. Private ranges stay allowed: GPU nodes live on them.
 */
const REFUSED = new BlockList();
REFUSED.addSubnet('0.0.0.0', 8, 'ipv4');
REFUSED.addSubnet('127.0.0.0', 8, 'ipv4');
REFUSED.addSubnet('169.254.0.0', 16, 'ipv4');
REFUSED.addSubnet('224.0.0.0', 4, 'ipv4');
REFUSED.addSubnet('240.0.0.0', 4, 'ipv4');
REFUSED.addAddress('::', 'ipv6');
REFUSED.addAddress('::1', 'ipv6');
REFUSED.addSubnet('fe80::', 10, 'ipv6');
REFUSED.addSubnet('ff00::', 8, 'ipv6');

function refusedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return REFUSED.check(address, 'ipv4');
  if (family === 6) return REFUSED.check(address, 'ipv6');
  return true;
}

/**
 * Why a reported `host:port` may not be routed to, or undefined when it may. A name is resolved
 * now and refused if any of its addresses is refused (a name can be made to resolve elsewhere
 * later: operators who cannot trust their providers' DNS should require IP addresses).
 */
export async function endpointRefusal(endpoint: string, timeoutMs = 2000): Promise<string | undefined> {
  const host = endpoint.slice(0, endpoint.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
  if (isIP(host)) return refusedAddress(host) ? `${host} is a loopback, link-local or unroutable address` : undefined;
  if (host.toLowerCase() === 'localhost' || host.toLowerCase().endsWith('.localhost')) return `${host} is loopback`;
  let addresses: Array<{ address: string }>;
  try {
    addresses = await Promise.race([
      lookup(host, { all: true }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs).unref()),
    ]);
  } catch (error) {
    return `${host} does not resolve (${(error as Error).message})`;
  }
  const refused = addresses.find((a) => refusedAddress(a.address));
  return refused ? `${host} resolves to ${refused.address}, a loopback, link-local or unroutable address` : undefined;
}

import { describe, expect, it } from 'vitest';
import { isBlockedAddress, resolveTarget, TargetRefusedError } from './webhook-targets.js';

describe('isBlockedAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'CGNAT'],
    ['100.100.100.200', 'Alibaba metadata'],
    ['169.254.169.254', 'cloud metadata'],
    ['168.63.129.16', 'Azure platform'],
    ['192.0.0.192', 'Oracle metadata'],
    ['0.0.0.0', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'IPv6 loopback'],
    ['::', 'unspecified'],
    ['fd00:ec2::254', 'AWS metadata (unique local)'],
    ['fc00::1', 'unique local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['64:ff9b::a00:1', 'NAT64 of 10.0.0.1'],
    ['64:ff9b::7f00:1', 'NAT64 of 127.0.0.1'],
    ['2002:7f00:1::1', '6to4'],
    ['2001:db8::1', 'documentation'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['not-an-address', 'not an address at all'],
  ])('refuses %s (%s)', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each([
    ['93.184.215.14', 'public IPv4'],
    ['8.8.8.8', 'public IPv4'],
    ['172.32.0.1', 'just past 172.16/12'],
    ['100.128.0.1', 'just past CGNAT'],
    ['2606:4700:4700::1111', 'public IPv6'],
    ['::ffff:8.8.8.8', 'IPv4-mapped public'],
    ['64:ff9b::808:808', 'NAT64 of 8.8.8.8'],
  ])('lets %s through (%s)', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });
});

describe('resolveTarget', () => {
  const refusal = async (url: string) => {
    try {
      await resolveTarget(new URL(url), { allowPrivate: false, timeoutMs: 2_000 });
      return null;
    } catch (error) {
      expect(error).toBeInstanceOf(TargetRefusedError);
      return (error as TargetRefusedError).rule;
    }
  };

  it('refuses literal and named private targets', async () => {
    expect(await refusal('http://127.0.0.1:8080/hook')).toBe('private_target');
    expect(await refusal('http://[::1]/hook')).toBe('private_target');
    expect(await refusal('http://[::ffff:169.254.169.254]/latest/meta-data')).toBe('private_target');
    expect(await refusal('http://2130706433/')).toBe('private_target'); // 127.0.0.1 written as one number
    expect(await refusal('http://localhost:3000/')).toBe('private_target');
  });

  it('refuses a host that does not resolve', async () => {
    expect(await refusal('https://no-such-host.invalid/')).toBe('unresolvable_host');
  });

  it('lets a public literal through and returns the address to connect to', async () => {
    expect(
      await resolveTarget(new URL('https://93.184.215.14/hook'), { allowPrivate: false, timeoutMs: 2_000 }),
    ).toEqual([{ address: '93.184.215.14', family: 4 }]);
  });

  it('lets private targets through when they are allowed', async () => {
    expect(await resolveTarget(new URL('http://127.0.0.1:9/'), { allowPrivate: true, timeoutMs: 2_000 })).toEqual([
      { address: '127.0.0.1', family: 4 },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { endpointRefusal } from './endpoint-guard.js';

describe('endpointRefusal', () => {
  it.each([
    ['10.0.3.17:40123', undefined],
    ['192.168.1.20:8000', undefined],
    ['[fd00::5]:8000', undefined],
    ['203.0.113.9:443', undefined],
  ])('lets %s through (node networks are private, not forbidden)', async (endpoint, expected) => {
    expect(await endpointRefusal(endpoint)).toBe(expected);
  });

  it.each([
    '127.0.0.1:5432',
    '127.9.9.9:80',
    '0.0.0.0:80',
    '169.254.169.254:80',
    '[::1]:80',
    '[fe80::1]:80',
    'localhost:5432',
    'db.localhost:5432',
  ])('refuses %s', async (endpoint) => {
    expect(await endpointRefusal(endpoint)).toMatch(/loopback|link-local|unroutable/);
  });

  it('refuses a name that does not resolve', async () => {
    expect(await endpointRefusal('no-such-host.invalid:80')).toMatch(/does not resolve/);
  });
});

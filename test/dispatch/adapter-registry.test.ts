import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import type { ProviderAdapter } from '../../src/modules/dispatch/adapters/provider-adapter.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { loadConfig } from '../../src/platform/config/config.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

describe('adapter registry', () => {
  const registry = () => new AdapterRegistry(null as never, loadConfig({}));

  it('builds one adapter per provider however many orders ask for it at once', async () => {
    const adapters = registry();
    let made = 0;
    adapters.register('slurm', async () => {
      made += 1;
      await new Promise((r) => setTimeout(r, 30));
      return new SimulatedAdapter({ nodes: [] });
    });
    const got = await Promise.all(Array.from({ length: 8 }, () => adapters.forProvider('p-1', 'slurm')));
    expect(made).toBe(1);
    expect(new Set(got).size).toBe(1);
    expect(await adapters.forProvider('p-1', 'slurm')).toBe(got[0]);
    await adapters.forProvider('p-2', 'slurm');
    expect(made).toBe(2);
  });

  it('forgets a creation that failed, so the next order tries again', async () => {
    const adapters = registry();
    let calls = 0;
    adapters.register('slurm', async (): Promise<ProviderAdapter> => {
      calls += 1;
      await new Promise((r) => setTimeout(r, 10));
      if (calls === 1) throw new Error('controller unreachable');
      return new SimulatedAdapter({ nodes: [] });
    });
    const first = await Promise.allSettled([
      adapters.forProvider('p-1', 'slurm'),
      adapters.forProvider('p-1', 'slurm'),
    ]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    const adapter = await adapters.forProvider('p-1', 'slurm');
    expect(adapter).toBeInstanceOf(SimulatedAdapter);
    expect(calls).toBe(2);
  });
});

describe('a provider whose simulated fleet the registry builds (the demo)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ MIN_HOLD_SECONDS: '1' });
  });
  afterAll(async () => t?.close());

  it('runs every lease of the first round, however many orders reach the fleet at once', async () => {
    const provider = await createProvider(t, 'demo-fleet');
    await putNodes(
      t,
      provider.apiKey,
      Array.from({ length: 5 }, (_, i) => node(`demo-${i}`)),
    );
    const tenant = await createTenant(t);
    const bids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await t.http().post('/v1/bids').set(auth(tenant.apiKey)).send(bidBody());
      bids.push(response.body.id);
    }
    const summary = await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2033, 0, 1)) });
    expect(summary?.placements).toBe(5);
    await until('every place order handled', async () => {
      const [row] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM orders WHERE type = 'place' AND state IN ('pending', 'sent')`,
      );
      return row.n === 0;
    });
    await t.app.get(LeaseSyncService).syncAll();
    const leases = await t.dataSource.query(`SELECT state, end_reason FROM leases WHERE bid_id = ANY($1::uuid[])`, [
      bids,
    ]);
    expect(leases).toEqual(Array.from({ length: 5 }, () => ({ state: 'running', end_reason: null })));
  });
});

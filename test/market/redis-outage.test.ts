import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { OrderSweeperService } from '../../src/modules/dispatch/order-sweeper.service.js';
import { OutboxRelayService } from '../../src/platform/outbox/outbox-relay.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { redisAnswers, startRedis as start } from '../support/redis-server.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

// A Redis of this test's own, so stopping it disturbs no other test file.
const PORT = 6391 + Number(process.env.VITEST_POOL_ID ?? 0);
const REDIS_URL = `redis://127.0.0.1:${PORT}`;
const startRedis = () => start(PORT);
const redisUp = () => redisAnswers(PORT);

describe('Redis stopped for 30 s and restarted empty', () => {
  let redis: ChildProcess;
  let t: TestApp;

  beforeAll(async () => {
    redis = startRedis();
    await until('redis to start', redisUp);
    t = await createTestApp({ REDIS_URL, MIN_HOLD_SECONDS: '1', PREEMPTION_NOTICE_SECONDS: '2' });
  });
  afterAll(async () => {
    if (!(await redisUp())) redis = startRedis();
    await t?.close();
    redis.kill('SIGKILL');
  });

  it('delivers every order once, including a delayed job the restart lost', { timeout: 120_000 }, async () => {
    const rounds = t.app.get(RoundService);
    let period = 0;
    const round = () => rounds.runRound({ periodStart: new Date(Date.UTC(2032, 0, 1) + 60_000 * period++) });
    const provider = await createProvider(t, 'outage-provider');
    await putNodes(t, provider.apiKey, [node('out-a')]);
    const fleet = new SimulatedAdapter({ nodes: [{ externalId: 'out-a', gpus: 8 }] });
    t.app.get(AdapterRegistry).use(provider.id, fleet);
    const tenant = await createTenant(t);
    const leaseOf = async (bidId: string) =>
      (await t.dataSource.query('SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1', [bidId]))[0];

    const low = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ preemptible: true, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }] }));
    await round();
    const lowLease = await leaseOf(low.body.id);
    await until('the first placement through BullMQ', async () => fleet.placementOf(lowLease.id) !== undefined);
    await until(
      'its order done',
      async () =>
        (await t.dataSource.query(`SELECT state FROM orders WHERE lease_id = $1`, [lowLease.id]))[0].state === 'done',
    );
    await t.app.get(LeaseSyncService).syncAll();
    await new Promise((r) => setTimeout(r, 1_100));

    // The displacing round relays the notice and a place order delayed until the notice ends;
    // Redis then stops before the delayed job is due, and comes back empty.
    const high = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '6.00' }] }));
    await round();
    const highLease = await leaseOf(high.body.id);
    await until('the SIGTERM of the notice', async () => fleet.signalsOf(lowLease.id).includes('SIGTERM'));
    redis.kill('SIGKILL');
    await until('redis to stop', async () => !(await redisUp()));

    await new Promise((r) => setTimeout(r, 3_000));
    await round(); // the notice has ended: preempted, a terminate order goes to the outbox
    const pending = await t.dataSource.query('SELECT count(*)::int AS n FROM outbox WHERE relayed_at IS NULL');
    await t.app.get(OutboxRelayService).relay();
    expect((await t.dataSource.query('SELECT count(*)::int AS n FROM outbox WHERE relayed_at IS NULL'))[0].n).toBe(
      pending[0].n,
    );
    expect(pending[0].n).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 27_000));
    expect(fleet.placementOf(highLease.id)).toBeUndefined();

    redis = startRedis();
    await until('redis to restart', redisUp);
    await until(
      'the outbox to drain',
      async () =>
        (await t.dataSource.query('SELECT count(*)::int AS n FROM outbox WHERE relayed_at IS NULL'))[0].n === 0,
    );
    expect(await t.app.get(OrderSweeperService).sweep()).toBeGreaterThanOrEqual(1);
    await until('the lost placement to be delivered', async () => fleet.placementOf(highLease.id) !== undefined);
    await until('every order handled', async () => {
      const rows = await t.dataSource.query(`SELECT count(*)::int AS n FROM orders WHERE state IN ('pending', 'sent')`);
      return rows[0].n === 0;
    });
    expect(fleet.startsOf(highLease.id)).toBe(1);
    expect(fleet.startsOf(lowLease.id)).toBe(1);
    const failed = await t.dataSource.query(`SELECT count(*)::int AS n FROM orders WHERE state = 'failed'`);
    expect(failed[0].n).toBe(0);
  });
});

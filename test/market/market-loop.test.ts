import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Money } from '../../src/core/money/money.js';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { OutboxRelayService } from '../../src/platform/outbox/outbox-relay.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { past, until } from '../support/until.js';

describe('market loop on real PostgreSQL with in-process jobs', () => {
  let t: TestApp;
  let rounds: RoundService;
  let sync: LeaseSyncService;
  let fleet: SimulatedAdapter;
  let providerId: string;
  let period = 0;
  // Each round gets its own period; the clock of the round is the real one.
  const round = () => rounds.runRound({ periodStart: new Date(Date.UTC(2030, 0, 1) + 60_000 * period++) });
  const leaseOf = async (bidId: string) =>
    (await t.dataSource.query(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1`, [bidId]))[0];
  const bidStatus = async (bidId: string) =>
    (
      await t.dataSource.query(`SELECT status, remaining_seconds, last_loss_reason FROM bids WHERE id = $1`, [bidId])
    )[0];

  beforeAll(async () => {
    t = await createTestApp({
      ROUND_PERIOD_SECONDS: '86400',
      MIN_HOLD_SECONDS: '1',
      PREEMPTION_NOTICE_SECONDS: '2',
      MARKET_FEE_PERCENT: '10',
    });
    rounds = t.app.get(RoundService);
    sync = t.app.get(LeaseSyncService);
    const provider = await createProvider(t, 'sim-provider');
    providerId = provider.id;
    await putNodes(t, provider.apiKey, [node('sim-a', { reservePrice: '1.50' })]);
    // Simulated workloads run 100 times faster than their run time: 600 s of work ends in 6 s.
    fleet = new SimulatedAdapter({ nodes: [{ externalId: 'sim-a', gpus: 8 }], timeScale: 100 });
    t.app.get(AdapterRegistry).use(providerId, fleet);
  });
  afterAll(async () => t?.close());

  it('places a winning bid on the granted GPUs, displaces a preemptible lease for a higher bid with notice, and the reopened bid later finishes', async () => {
    const low = await createTenant(t, 'low');
    const high = await createTenant(t, 'high');
    const lowBid = await t
      .http()
      .post('/v1/bids')
      .set(auth(low.apiKey))
      .send(
        bidBody({ preemptible: true, runtimeSeconds: 600, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }] }),
      );
    expect(lowBid.status).toBe(201);

    const first = await round();
    expect(first?.placements).toBe(1);
    const lowLease = await leaseOf(lowBid.body.id);
    expect(lowLease.state).toBe('allocated');
    await until('the place order to reach the fleet', async () => fleet.placementOf(lowLease.id) !== undefined);
    expect(fleet.placementOf(lowLease.id)).toEqual([{ externalId: 'sim-a', gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7] }]);
    await until(
      'the order to be recorded done',
      async () =>
        (await t.dataSource.query(`SELECT state FROM orders WHERE lease_id = $1`, [lowLease.id]))[0].state === 'done',
    );
    await sync.syncAll();
    expect((await leaseOf(lowBid.body.id)).state).toBe('running');
    expect((await bidStatus(lowBid.body.id)).status).toBe('running');

    await past((await leaseOf(lowBid.body.id)).protected_until);
    const highBid = await t
      .http()
      .post('/v1/bids')
      .set(auth(high.apiKey))
      .send(bidBody({ runtimeSeconds: 300, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '5.00' }] }));
    const displacing = await round();
    expect(displacing?.preemptions).toBe(1);
    expect(displacing?.placements).toBe(1);
    expect((await leaseOf(lowBid.body.id)).state).toBe('preempting');
    const notice = await t.dataSource.query(
      `SELECT data FROM market_events WHERE type = 'lease.preemption_notice' AND tenant_id = $1`,
      [low.id],
    );
    expect(notice).toHaveLength(1);
    // Each tenant hears its own outcome of the round, and only its own.
    const [cleared] = await t.dataSource.query(
      `SELECT data FROM market_events WHERE type = 'round.cleared' AND tenant_id = $1 ORDER BY created_at DESC LIMIT 1`,
      [high.id],
    );
    expect(cleared.data.won).toEqual([expect.objectContaining({ bidId: highBid.body.id, gpus: 8 })]);
    expect(JSON.stringify(cleared.data)).not.toContain(lowBid.body.id);
    await until('the SIGTERM of the notice', async () => fleet.signalsOf(lowLease.id).includes('SIGTERM'));
    const highLease = await leaseOf(highBid.body.id);
    // The higher bid's workload waits for the notice to end before it is placed.
    expect(fleet.placementOf(highLease.id)).toBeUndefined();

    await past((await leaseOf(lowBid.body.id)).notice_ends_at);
    await round();
    expect((await leaseOf(lowBid.body.id)).state).toBe('preempted');
    const reopened = await bidStatus(lowBid.body.id);
    expect(reopened.status).toBe('open');
    expect(reopened.remaining_seconds).toBeLessThan(600);
    expect(reopened.remaining_seconds).toBeGreaterThan(590);
    await until('the higher bid placed after the notice', async () => fleet.placementOf(highLease.id) !== undefined);
    await until(
      'the place order done',
      async () =>
        (await t.dataSource.query(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'place'`, [highLease.id]))[0]
          .state === 'done',
    );
    await sync.syncAll();
    expect((await leaseOf(highBid.body.id)).state).toBe('running');

    // The higher bid's workload finishes; the displaced bid wins a new lease and finishes too.
    await until('the higher lease to complete', async () => {
      await sync.syncAll();
      return (await leaseOf(highBid.body.id)).state === 'completed';
    });
    expect((await bidStatus(highBid.body.id)).status).toBe('completed');
    await round();
    const second = await leaseOf(lowBid.body.id);
    expect(second.id).not.toBe(lowLease.id);
    expect(second.runtime_seconds).toBe(reopened.remaining_seconds);
    await until('the reopened bid to finish', async () => {
      await sync.syncAll();
      return (await bidStatus(lowBid.body.id)).status === 'completed';
    });
    expect(fleet.startsOf(second.id)).toBe(1);

    // The ledger balances to the last digit: every charge is a payout plus the 10% fee.
    const [totals] = await t.dataSource.query(
      `SELECT sum(charge)::text AS charges, sum(payout)::text AS payouts, sum(fee)::text AS fees FROM ledger_entries`,
    );
    expect(new Money(totals.charges).equals(new Money(totals.payouts).plus(totals.fees))).toBe(true);
    expect(new Money(totals.charges).greaterThan(0)).toBe(true);
    const lowCharges = await t.dataSource.query(
      `SELECT unit_price::text, seconds, gpus FROM ledger_entries WHERE tenant_id = $1`,
      [low.id],
    );
    // The pool was uncongested while the low bid ran alone: it paid the reserve, never its limit.
    expect(lowCharges.every((row: { unit_price: string }) => new Money(row.unit_price).lessThanOrEqualTo('2.00'))).toBe(
      true,
    );
  });

  it('cancelling a bid with a running lease stops its workload and settles it up to the cancel', async () => {
    // A second node: the first is held by a non-preemptible lease.
    await t.dataSource.query(
      `INSERT INTO nodes (id, provider_id, external_id, gpu_model, gpus, region, block, nvlink_domain, reserve_price)
       VALUES (gen_random_uuid(), $1, 'sim-b', 'H100-SXM-80GB', 8, 'eu-west', 'b1', 'sim-b', 1.50)`,
      [providerId],
    );
    fleet.addNode({ externalId: 'sim-b', gpus: 8 });
    const tenant = await createTenant(t, 'canceller');
    // Outbids the reopened preemptible bid for the free node.
    const bid = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ runtimeSeconds: 900, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '9.00' }] }));
    await round();
    const lease = await leaseOf(bid.body.id);
    expect(lease).toBeDefined();
    await until('its workload placed', async () => fleet.placementOf(lease.id) !== undefined);
    await until(
      'the place order done',
      async () =>
        (await t.dataSource.query(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'place'`, [lease.id]))[0]
          .state === 'done',
    );
    await sync.syncAll();
    expect((await leaseOf(bid.body.id)).state).toBe('running');
    await new Promise((r) => setTimeout(r, 1_000));

    const cancelled = await t.http().delete(`/v1/bids/${bid.body.id}`).set(auth(tenant.apiKey));
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    const ended = await leaseOf(bid.body.id);
    expect(ended.state).toBe('cancelled');
    expect(ended.end_reason).toBe('cancelled');
    await until('the terminate order reaches the fleet', async () => fleet.signalsOf(lease.id).includes('SIGTERM'));
    const [charged] = await t.dataSource.query(
      `SELECT sum(seconds)::int AS seconds FROM ledger_entries WHERE lease_id = $1`,
      [lease.id],
    );
    expect(charged.seconds).toBeGreaterThanOrEqual(1);
    expect(new Date(ended.settled_until).getTime()).toBeLessThanOrEqual(new Date(ended.ended_at).getTime());
    expect(new Date(ended.ended_at).getTime() - new Date(ended.settled_until).getTime()).toBeLessThan(1_000);
  });

  it('writes one round per period even when asked twice', async () => {
    const periodStart = new Date(Date.UTC(2031, 0, 1));
    const [a, b] = await Promise.all([rounds.runRound({ periodStart }), rounds.runRound({ periodStart })]);
    expect([a, b].filter((r) => r !== null)).toHaveLength(1);
    const rows = await t.dataSource.query(`SELECT count(*)::int AS n FROM rounds WHERE period_start = $1`, [
      periodStart,
    ]);
    expect(rows[0].n).toBe(1);
  });

  it('leaves nothing in the outbox after a round relays', async () => {
    await t.app.get(OutboxRelayService).relay();
    const rows = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM outbox WHERE relayed_at IS NULL AND deliver_at <= now()`,
    );
    expect(rows[0].n).toBe(0);
  });
});

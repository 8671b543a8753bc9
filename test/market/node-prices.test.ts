import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Money } from '../../src/core/money/money.js';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { past, until } from '../support/until.js';

/**
 * Node prices through the whole service on real PostgreSQL (market.md section 5a): a round
 * that displaces a lease, prices the node at the best demand it turned away, reprices a kept
 * lease whose limit is below that price (uplift), and settles the next period exactly.
 */
describe('node prices in the market loop: preemption, a repriced kept lease with uplift, exact settlement', () => {
  let t: TestApp;
  let period = 0;
  const round = () =>
    t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2037, 0, 1) + 60_000 * period++) });
  const q = (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const leaseOf = async (bidId: string) =>
    (await q(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1`, [bidId]))[0];
  const shareOf = async (bidId: string) =>
    (
      await q(`SELECT unit_price::text, node_price::text, uplift::text FROM lease_nodes WHERE lease_id = $1`, [
        (await leaseOf(bidId)).id,
      ])
    )[0];

  beforeAll(async () => {
    t = await createTestApp({
      MIN_HOLD_SECONDS: '1',
      PREEMPTION_NOTICE_SECONDS: '5',
      MARKET_FEE_PERCENT: '10',
      PREEMPTION_PENALTY: '0.50',
    });
  });
  afterAll(async () => t?.close());

  it('prices the node at the bid it turned away, charges the capped kept lease its limit, and reconciles to the micro-unit', async () => {
    const provider = await createProvider(t, 'one-node');
    await putNodes(t, provider.apiKey, [node('n-1', { region: 'eu-west', reservePrice: '1.50' })]);
    t.app.get(AdapterRegistry).use(provider.id, new SimulatedAdapter({ nodes: [{ externalId: 'n-1', gpus: 8 }] }));
    const tenant = await createTenant(t, 'buyers');
    const bid = async (overrides: Record<string, unknown>) => {
      const response = await t
        .http()
        .post('/v1/bids')
        .set(auth(tenant.apiKey))
        .send(bidBody({ gpus: 4, runtimeSeconds: 3600, ...overrides }));
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      return response.body.id as string;
    };
    const running = async (bidId: string) => {
      await until(`${bidId} running`, async () => {
        await t.app.get(LeaseSyncService).syncAll();
        return (await leaseOf(bidId))?.state === 'running';
      });
    };

    // Round 1: two 4-GPU leases fill the node; nothing was turned away, so it is priced at its reserve.
    const victim = await bid({ preemptible: true, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }] });
    const keeper = await bid({ preemptible: false, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '1.60' }] });
    expect((await round())?.placements).toBe(2);
    expect(await shareOf(keeper)).toEqual({ unit_price: '1.500000', node_price: '1.500000', uplift: '0.000000' });
    await running(victim);
    await running(keeper);
    await past((await leaseOf(victim)).protected_until);

    // Round 2: a 3.50 bid displaces the preemptible lease; a 2-GPU bid at 2.40 is turned away.
    const rich = await bid({ offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.50' }] });
    const waiting = await bid({ gpus: 2, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.40' }] });
    const second = await round();
    expect(second).toMatchObject({ placements: 1, preemptions: 1 });
    const detail = await t.http().get(`/v1/rounds/${second!.roundId}`).set(auth(t.adminKey));
    // Keeping the 2.40 bid out of the node's 4 contestable GPUs needs 2.40; nothing less supports the round.
    expect(detail.body.prices).toEqual([
      expect.objectContaining({
        price: '2.40',
        marginalBidId: waiting,
        marginalBidPrice: '2.40',
        nodePrices: { min: '2.40', median: '2.40', max: '2.40' },
      }),
    ]);
    expect(await q(`SELECT price::text FROM node_prices WHERE round_id = $1`, [second!.roundId])).toEqual([
      { price: '2.400000' },
    ]);
    expect(await shareOf(rich)).toEqual({ unit_price: '2.400000', node_price: '2.400000', uplift: '0.000000' });
    // The non-preemptible lease keeps its GPUs and pays its limit; the market pays the rest to the provider.
    expect(await shareOf(keeper)).toEqual({ unit_price: '1.600000', node_price: '2.400000', uplift: '0.800000' });
    const [cleared] = await q(`SELECT data FROM market_events WHERE type = 'round.cleared' AND subject_id = $1`, [
      second!.roundId,
    ]);
    expect(cleared.data.won).toEqual([
      expect.objectContaining({ bidId: rich, unitPrice: '2.400000', uplift: '0.000000' }),
    ]);
    expect(cleared.data.lost).toEqual([{ bidId: waiting, reason: 'outbid' }]);

    // Round 3 settles the period since round 2 at those prices.
    await new Promise((r) => setTimeout(r, 1_100));
    const third = await round();
    const rows = await q(
      `SELECT seconds, gpus, unit_price::text, node_price::text, charge::text, uplift::text, fee::text, payout::text
         FROM ledger_entries WHERE round_id = $1 AND lease_id = $2`,
      [third!.roundId, (await leaseOf(keeper)).id],
    );
    expect(rows).toHaveLength(1);
    const [row] = rows;
    const hours = new Money(row.seconds).dividedBy(3600);
    const gross = new Money('2.40').times(4).times(hours).toDecimalPlaces(6);
    const charge = new Money('1.60').times(4).times(hours).toDecimalPlaces(6);
    expect(row).toMatchObject({
      unit_price: '1.600000',
      node_price: '2.400000',
      charge: charge.toFixed(6),
      uplift: gross.minus(charge).toFixed(6),
    });
    expect(row.fee).toBe(gross.times('0.10').toDecimalPlaces(6).toFixed(6));
    expect(new Money(row.payout).plus(row.fee).equals(gross)).toBe(true);

    // charges + uplift = payouts + fees, per round and over everything, to the micro-unit.
    const perRound = await q(
      `SELECT round_id, sum(charge)::text AS c, sum(uplift)::text AS u, sum(fee)::text AS f, sum(payout)::text AS p FROM ledger_entries GROUP BY round_id`,
    );
    expect(perRound.length).toBeGreaterThan(0);
    for (const r of perRound)
      expect(new Money(r.c).plus(r.u).equals(new Money(r.p).plus(r.f)), JSON.stringify(r)).toBe(true);
    const books = await t.http().get('/v1/ledger').set(auth(t.adminKey));
    const totals = books.body.totals;
    expect(new Money(totals.uplift).greaterThan(0)).toBe(true);
    expect(new Money(totals.charges).plus(totals.uplift).equals(new Money(totals.payouts).plus(totals.fees))).toBe(
      true,
    );
  });
});

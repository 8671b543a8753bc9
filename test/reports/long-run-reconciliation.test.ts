import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/simulation/rng.js';
import { Money, sum } from '../../src/core/money/money.js';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

const ROUNDS = 90;
const PERIOD_MS = 60_000;
// The simulated clock runs in the past, so orders (due at simulated instants) are dispatched at once.
const START = Date.UTC(2021, 0, 1, 0, 0, 0);
const RANGE = 'from=2020-12-31T00:00:00Z&to=2021-01-02T00:00:00Z';

const total = (rows: Array<Record<string, string>>, field: string) => sum(rows.map((r) => new Money(r[field])));

describe('reconciliation after a long simulated market run', () => {
  let t: TestApp;
  let financeKey: string;

  beforeAll(async () => {
    t = await createTestApp({
      ROUND_PERIOD_SECONDS: '60',
      MIN_HOLD_SECONDS: '120',
      PREEMPTION_NOTICE_SECONDS: '60',
      MARKET_FEE_PERCENT: '7.5',
    });
    // Every round here runs on the simulated clock below; the wall-clock schedule (one round per
    // minute boundary, which may fall inside this test) must not add one of its own.
    t.app.get(RoundService).runScheduled = async () => null;
    let clock = START;
    const fleetOf = async (name: string, nodes: Array<Record<string, unknown>>) => {
      const provider = await createProvider(t, name);
      await putNodes(t, provider.apiKey, nodes);
      const fleet = new SimulatedAdapter({
        nodes: nodes.map((n) => ({ externalId: n.externalId as string, gpus: n.gpus as number })),
        now: () => clock,
      });
      t.app.get(AdapterRegistry).use(provider.id, fleet);
    };
    await fleetOf('north', [node('n-h1', { reservePrice: '1.50' }), node('n-h2', { reservePrice: '1.75' })]);
    await fleetOf('south', [
      node('s-a1', { gpuModel: 'A100-SXM-80GB', region: 'us-east', reservePrice: '0.90' }),
      node('s-h1', { reservePrice: '1.60', gpus: 4 }),
    ]);
    const tenants = await Promise.all(['ada', 'bo', 'cy', 'di'].map((name) => createTenant(t, name)));
    const rng = Rng.seeded(7);
    const pick = <T>(values: readonly T[]) => values[Math.floor(rng.next() * values.length)];
    const rounds = t.app.get(RoundService);
    const sync = t.app.get(LeaseSyncService);

    for (let k = 0; k < ROUNDS; k++) {
      for (let b = Math.floor(rng.next() * 3); b > 0; b--) {
        const model = pick(['H100-SXM-80GB', 'A100-SXM-80GB']);
        const maxPrice = (model === 'H100-SXM-80GB' ? rng.uniform(1.2, 6) : rng.uniform(0.7, 3)).toFixed(2);
        const response = await t
          .http()
          .post('/v1/bids')
          .set(auth(pick(tenants).apiKey))
          .send(
            bidBody({
              gpus: pick([1, 2, 4, 8]),
              contiguity: 'none',
              preemptible: rng.next() < 0.5,
              runtimeSeconds: pick([120, 300, 900, 1800]),
              offers: [{ gpuModel: model, maxPrice }],
            }),
          );
        expect(response.status, JSON.stringify(response.body)).toBe(201);
      }
      clock = START + k * PERIOD_MS + 1_500;
      await rounds.runRound({ now: new Date(clock), periodStart: new Date(START + k * PERIOD_MS) });
      await until(`round ${k}'s orders to reach the fleets`, async () => {
        const [open] = await t.dataSource.query(
          `SELECT count(*)::int AS n FROM orders WHERE state IN ('pending', 'sent') AND not_before <= $1`,
          [new Date(clock)],
        );
        return open.n === 0;
      });
      await sync.syncAll(new Date(clock));
    }
    const finance = await t
      .http()
      .post('/v1/api-keys')
      .set(auth(t.adminKey))
      .send({ role: 'finance', name: 'auditor' });
    financeKey = finance.body.apiKey;
  }, 240_000);
  afterAll(async () => t?.close());

  const report = async (path: string) => {
    const response = await t.http().get(`/v1/reports/${path}`).set(auth(financeKey));
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body;
  };

  it('has traded: many ledger entries, preemptions and completions', async () => {
    const [counts] = await t.dataSource.query(
      `SELECT (SELECT count(*)::int FROM ledger_entries) AS entries, (SELECT count(*)::int FROM leases WHERE state = 'completed') AS completed,
              (SELECT coalesce(sum(preemptions), 0)::int FROM rounds) AS preemptions, (SELECT count(*)::int FROM rounds WHERE state = 'committed') AS rounds`,
    );
    expect(counts.rounds).toBe(ROUNDS);
    expect(counts.entries).toBeGreaterThan(200);
    expect(counts.completed).toBeGreaterThan(10);
    expect(counts.preemptions).toBeGreaterThan(0);
  });

  it('reconciles to zero: charges plus uplift equal payouts plus fees in total, every day, and no round breaks it', async () => {
    const reconciliation = await report(`reconciliation?${RANGE}`);
    expect(reconciliation.totals.difference).toBe('0.000000');
    expect(reconciliation.totals.balanced).toBe(true);
    expect(new Money(reconciliation.totals.charges).greaterThan(0)).toBe(true);
    // Random limits against node prices cap some leases: the run has uplift, so the identity is tested with it.
    expect(new Money(reconciliation.totals.uplift).greaterThan(0)).toBe(true);
    expect(reconciliation.rows.every((day: { balanced: boolean }) => day.balanced)).toBe(true);
    expect(reconciliation.breaks).toEqual([]);
    // Every round on its own, exactly, straight from the ledger.
    const unbalanced = await t.dataSource.query(
      `SELECT round_id FROM ledger_entries GROUP BY round_id HAVING sum(charge) + sum(uplift) <> sum(payout) + sum(fee)`,
    );
    expect(unbalanced).toEqual([]);
    // The same total as the ledger API, reached by a different query.
    const ledger = await t
      .http()
      .get(`/v1/ledger?from=2020-12-31T00:00:00Z&to=2021-01-02T00:00:00Z&limit=1`)
      .set(auth(financeKey));
    expect(ledger.body.totals).toMatchObject({
      charges: reconciliation.totals.charges,
      uplift: reconciliation.totals.uplift,
      payouts: reconciliation.totals.payouts,
      fees: reconciliation.totals.fees,
    });
  });

  it('adds up the same money whichever way revenue is grouped, and tenant charges match gross charges', async () => {
    const byDay = await report(`revenue?${RANGE}&groupBy=day`);
    for (const groupBy of ['provider', 'pool']) {
      const grouped = await report(`revenue?${RANGE}&groupBy=${groupBy}`);
      // Money is exact in every row, so the rows add up to the last micro-unit.
      for (const field of ['charges', 'uplift', 'payouts', 'fees', 'netFees']) {
        expect(total(grouped.rows, field).toFixed(6), `${groupBy} ${field}`).toBe(total(byDay.rows, field).toFixed(6));
      }
      expect(grouped.totals).toEqual(byDay.totals);
    }
    // GPU-hours are GPU-seconds / 3600, rounded once per row: the rows may miss the total by half a micro-unit each.
    for (const groupBy of ['day', 'provider', 'pool']) {
      const grouped = await report(`revenue?${RANGE}&groupBy=${groupBy}`);
      const drift = total(grouped.rows, 'gpuHours').minus(grouped.totals.gpuHours).abs();
      expect(drift.lessThanOrEqualTo(new Money('0.0000005').times(grouped.rows.length)), `${groupBy} gpuHours`).toBe(
        true,
      );
    }
    expect(total(byDay.rows, 'charges').toFixed(6)).toBe(byDay.totals.charges);
    const tenants = await report(`tenant-charges?${RANGE}`);
    expect(total(tenants.rows, 'charges').toFixed(6)).toBe(byDay.totals.charges);
    expect(total(tenants.rows, 'uplift').toFixed(6)).toBe(byDay.totals.uplift);
    expect(new Money(byDay.totals.netFees).equals(new Money(byDay.totals.fees).minus(byDay.totals.uplift))).toBe(true);
  });

  it('sells in the price report exactly the GPU-hours the utilisation report counts, never more than available', async () => {
    const prices = await report(`clearing-prices?${RANGE}&bucket=1h`);
    const utilization = await report(`utilization?${RANGE}&bucket=1h`);
    expect(prices.rows.length).toBeGreaterThan(0);
    expect(total(prices.rows, 'gpuHours').toFixed(6)).toBe(total(utilization.rows, 'soldGpuHours').toFixed(6));
    for (const row of utilization.rows)
      expect(new Money(row.soldGpuHours).lessThanOrEqualTo(row.availableGpuHours)).toBe(true);
    for (const row of prices.rows) {
      expect(new Money(row.low).lessThanOrEqualTo(row.open) && new Money(row.open).lessThanOrEqualTo(row.high)).toBe(
        true,
      );
      expect(new Money(row.low).lessThanOrEqualTo(row.close) && new Money(row.close).lessThanOrEqualTo(row.high)).toBe(
        true,
      );
      // The index is a node price, so it lies in the band; the median of medians too.
      const band = row.nodePrices;
      expect(
        new Money(band.min).lessThanOrEqualTo(row.low) && new Money(row.high).lessThanOrEqualTo(band.max),
        JSON.stringify(row),
      ).toBe(true);
      expect(
        new Money(band.min).lessThanOrEqualTo(band.median) && new Money(band.median).lessThanOrEqualTo(band.max),
      ).toBe(true);
      // A lease pays at most the mean of its nodes' prices (less when its limit caps it), so never above the band
      // (each GPU model here sits in one region, so no lease averages the prices of two pools).
      if (row.vwap !== null) expect(new Money(row.vwap).lessThanOrEqualTo(band.max), JSON.stringify(row)).toBe(true);
      expect(new Money(row.paidGpuHours).lessThanOrEqualTo(row.gpuHours)).toBe(true);
    }
  });

  it("publishes node prices whose lowest and highest per pool and hour are the price report's band", async () => {
    const nodePrices = await report(`node-prices?${RANGE}&limit=10000`);
    expect(nodePrices.nextCursor).toBeNull();
    expect(nodePrices.rows.length).toBeGreaterThanOrEqual(ROUNDS * 4);
    const band = new Map<string, { min: Money; max: Money }>();
    for (const row of nodePrices.rows) {
      expect(new Money(row.rent).equals(new Money(row.price).minus(row.reservePrice))).toBe(true);
      expect(new Money(row.rent).isNegative()).toBe(false);
      const key = `${row.gpuModel}/${row.region}/${row.periodStart.slice(0, 13)}`;
      const seen = band.get(key);
      const price = new Money(row.price);
      band.set(key, {
        min: seen && seen.min.lessThan(price) ? seen.min : price,
        max: seen && seen.max.greaterThan(price) ? seen.max : price,
      });
    }
    const prices = await report(`clearing-prices?${RANGE}&bucket=1h`);
    for (const row of prices.rows) {
      const seen = band.get(`${row.gpuModel}/${row.region}/${row.bucketStart.slice(0, 13)}`);
      expect(seen, JSON.stringify(row)).toBeDefined();
      expect([seen!.min.toFixed(6), seen!.max.toFixed(6)]).toEqual([
        new Money(row.nodePrices.min).toFixed(6),
        new Money(row.nodePrices.max).toFixed(6),
      ]);
    }
  });
});

import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Money } from '../../src/core/money/money.js';
import { ConfigError, loadConfig } from '../../src/platform/config/config.js';
import { auth, createTenant } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { type ReportFixture, seedReportFixture } from './report-fixtures.js';

const JAN = 'from=2030-01-01T00:00:00Z&to=2030-01-03T00:00:00Z';
const H100 = 'H100-SXM-80GB';
const A100 = 'A100-SXM-80GB';

describe('finance reports against a hand-computed market', () => {
  let t: TestApp;
  let f: ReportFixture;
  let financeKey: string;
  let tenantKey: string;
  const get = (path: string, key = financeKey) => t.http().get(path).set(auth(key));

  beforeAll(async () => {
    t = await createTestApp({ ROUND_PERIOD_SECONDS: '3600', MARKET_FEE_PERCENT: '10', REPORT_MAX_SPAN_DAYS: '40' });
    f = await seedReportFixture(t);
    const finance = await t
      .http()
      .post('/v1/api-keys')
      .set(auth(t.adminKey))
      .send({ role: 'finance', name: 'finance team' });
    expect(finance.status).toBe(201);
    financeKey = finance.body.apiKey;
    tenantKey = (await createTenant(t, 'curious tenant')).apiKey;
  });
  afterAll(async () => t?.close());

  it('gives daily OHLC of the pool index, the node-price band, the VWAP of actual charges, GPU-hours and the marginal bid behind each close, ignoring abandoned rounds', async () => {
    const response = await get(`/v1/reports/clearing-prices?${JAN}&bucket=1d`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({
      from: '2030-01-01T00:00:00.000Z',
      to: '2030-01-03T00:00:00.000Z',
      bucket: '1d',
      roundPeriodSeconds: 3600,
    });
    expect(response.body.rows).toEqual([
      // A100/us-east, day 1: index 1.00 (0 sold, a round from before node prices: no VWAP), 1.20 (4 paid at 1.20).
      // Band: lowest 1.00, median of the rounds' medians [1.00, 1.20] = 1.00 (the lower), highest 1.20. The reserve
      // set both prices.
      {
        gpuModel: A100,
        region: 'us-east',
        bucketStart: '2030-01-01T00:00:00.000Z',
        open: '1.00',
        high: '1.20',
        low: '1.00',
        close: '1.20',
        nodePrices: { min: '1.00', median: '1.00', max: '1.20' },
        vwap: '1.20',
        paidGpuHours: '4.000000',
        gpuHours: '4.000000',
        rounds: 2,
        closeRoundId: f.rounds.r2,
        marginalBid: null,
      },
      // H100/eu-west, day 1: index 2.00, 3.00, 2.50; bands [2.00 2.00 2.50], [3.00 3.00 3.50], [2.50 2.50 2.75]: band
      // 2.00 / 2.50 / 3.50.
      // Charges: 2.50 x 8 + 3.25 x 16 + 2.75 x 8 = 94 over 32 paid GPUs: VWAP 2.9375, above the index: the busier
      // node costs more.
      // The 99.00 of the abandoned round is not a price.
      {
        gpuModel: H100,
        region: 'eu-west',
        bucketStart: '2030-01-01T00:00:00.000Z',
        open: '2.00',
        high: '3.00',
        low: '2.00',
        close: '2.50',
        nodePrices: { min: '2.00', median: '2.50', max: '3.50' },
        vwap: '2.9375',
        paidGpuHours: '32.000000',
        gpuHours: '32.000000',
        rounds: 3,
        closeRoundId: f.rounds.r3,
        marginalBid: { id: f.bids.b1, limit: '3.50' },
      },
      // Day 2: l3 pays n3's 4.00, l4 its capped 4.20 (n1 is priced 4.50): VWAP 4.10.
      {
        gpuModel: H100,
        region: 'eu-west',
        bucketStart: '2030-01-02T00:00:00.000Z',
        open: '4.00',
        high: '4.00',
        low: '4.00',
        close: '4.00',
        nodePrices: { min: '4.00', median: '4.00', max: '4.50' },
        vwap: '4.10',
        paidGpuHours: '16.000000',
        gpuHours: '16.000000',
        rounds: 1,
        closeRoundId: f.rounds.r5,
        marginalBid: { id: f.bids.b3, limit: '5.00' },
      },
    ]);
  });

  it('buckets by the hour and filters by pool; a lease that set the price shows its limit', async () => {
    const response = await get(
      `/v1/reports/clearing-prices?from=2030-01-01T00:00:00Z&to=2030-01-01T04:00:00Z&bucket=1h&gpuModel=${H100}&region=eu-west`,
    );
    expect(response.status).toBe(200);
    expect(
      response.body.rows.map((r: Record<string, unknown>) => [
        r.bucketStart,
        r.close,
        r.nodePrices,
        r.vwap,
        r.gpuHours,
        r.marginalBid,
      ]),
    ).toEqual([
      [
        '2030-01-01T00:00:00.000Z',
        '2.00',
        { min: '2.00', median: '2.00', max: '2.50' },
        '2.50',
        '8.000000',
        { id: f.bids.lost, limit: '2.00' },
      ],
      [
        '2030-01-01T01:00:00.000Z',
        '3.00',
        { min: '3.00', median: '3.00', max: '3.50' },
        '3.25',
        '16.000000',
        { id: f.leases.l1, limit: '3.50' },
      ],
      [
        '2030-01-01T02:00:00.000Z',
        '2.50',
        { min: '2.50', median: '2.50', max: '2.75' },
        '2.75',
        '8.000000',
        { id: f.bids.b1, limit: '3.50' },
      ],
    ]);
  });

  it('has no VWAP for a bucket whose rounds had nothing paid, or predate node prices', async () => {
    const response = await get(
      `/v1/reports/clearing-prices?from=2030-01-01T00:00:00Z&to=2030-01-01T01:00:00Z&bucket=1h&gpuModel=${A100}`,
    );
    expect(response.body.rows).toEqual([
      expect.objectContaining({
        close: '1.00',
        nodePrices: { min: '1.00', median: '1.00', max: '1.00' },
        vwap: null,
        paidGpuHours: '0.000000',
      }),
    ]);
  });

  it('gives utilisation per pool and day as sold over available GPU-hours', async () => {
    const response = await get(`/v1/reports/utilization?${JAN}&bucket=1d`);
    expect(response.status).toBe(200);
    expect(response.body.rows).toEqual([
      {
        gpuModel: A100,
        region: 'us-east',
        bucketStart: '2030-01-01T00:00:00.000Z',
        soldGpuHours: '4.000000',
        availableGpuHours: '16.000000',
        utilization: '0.250000',
      },
      {
        gpuModel: H100,
        region: 'eu-west',
        bucketStart: '2030-01-01T00:00:00.000Z',
        soldGpuHours: '32.000000',
        availableGpuHours: '48.000000',
        utilization: '0.666667',
      },
      {
        gpuModel: H100,
        region: 'eu-west',
        bucketStart: '2030-01-02T00:00:00.000Z',
        soldGpuHours: '16.000000',
        availableGpuHours: '16.000000',
        utilization: '1.000000',
      },
    ]);
  });

  it('gives revenue per UTC day with uplift and totals, exact to the micro-unit', async () => {
    const response = await get(`/v1/reports/revenue?${JAN}&groupBy=day`);
    expect(response.status).toBe(200);
    expect(response.body.rows).toEqual([
      // E1 + E2 + E3 + E5: 74,400 GPU-seconds; 16 + 24 + 2.4 + 6.666667.
      {
        day: '2030-01-01',
        gpuHours: '20.666667',
        charges: '49.066667',
        uplift: '0.000000',
        payouts: '44.160000',
        fees: '4.906667',
        netFees: '4.906667',
        entries: 4,
      },
      // E4 + E6: 8,000 + 14,400 GPU-seconds; E6's gross 18 is 16.80 charged and 1.20 uplift; the market keeps
      // 2.688889 - 1.20.
      {
        day: '2030-01-02',
        gpuHours: '6.222222',
        charges: '25.688889',
        uplift: '1.200000',
        payouts: '24.200000',
        fees: '2.688889',
        netFees: '1.488889',
        entries: 2,
      },
    ]);
    expect(response.body.totals).toEqual({
      gpuHours: '26.888889',
      charges: '74.755556',
      uplift: '1.200000',
      payouts: '68.360000',
      fees: '7.595556',
      netFees: '6.395556',
      entries: 6,
    });
  });

  it('gives revenue per provider and per pool, with the uplift each received', async () => {
    const byProvider = await get(`/v1/reports/revenue?${JAN}&groupBy=provider`);
    expect(byProvider.body.rows).toEqual([
      {
        providerId: f.providers.p1,
        providerName: 'p1',
        gpuHours: '22.666667',
        charges: '63.466667',
        uplift: '1.200000',
        payouts: '58.200000',
        fees: '6.466667',
        netFees: '5.266667',
        entries: 4,
      },
      {
        providerId: f.providers.p2,
        providerName: 'p2',
        gpuHours: '4.222222',
        charges: '11.288889',
        uplift: '0.000000',
        payouts: '10.160000',
        fees: '1.128889',
        netFees: '1.128889',
        entries: 2,
      },
    ]);
    const byPool = await get(`/v1/reports/revenue?${JAN}&groupBy=pool`);
    expect(byPool.body.rows).toEqual([
      {
        gpuModel: A100,
        region: 'us-east',
        gpuHours: '2.000000',
        charges: '2.400000',
        uplift: '0.000000',
        payouts: '2.160000',
        fees: '0.240000',
        netFees: '0.240000',
        entries: 1,
      },
      {
        gpuModel: H100,
        region: 'eu-west',
        gpuHours: '24.888889',
        charges: '72.355556',
        uplift: '1.200000',
        payouts: '66.200000',
        fees: '7.355556',
        netFees: '6.155556',
        entries: 5,
      },
    ]);
  });

  it('counts a ledger entry in the range holding the end of the interval it charges (ranges are [from, to))', async () => {
    // E4 ends at 2030-01-02T00:16:40Z: outside a range ending at that instant, inside one ending a second later.
    const before = await get('/v1/reports/revenue?from=2030-01-01T00:00:00Z&to=2030-01-02T00:16:40Z');
    expect(before.body.totals.entries).toBe(4);
    // E6 ends at 00:30:00, in neither.
    const after = await get('/v1/reports/revenue?from=2030-01-01T00:00:00Z&to=2030-01-02T00:16:41Z');
    expect(after.body.totals.entries).toBe(5);
  });

  it('gives charges and the uplift the market paid on top per tenant and pool', async () => {
    const response = await get(`/v1/reports/tenant-charges?${JAN}`);
    expect(response.status).toBe(200);
    expect(response.body.rows).toEqual([
      {
        tenantId: f.tenants.acme,
        tenantName: 'acme',
        gpuModel: H100,
        region: 'eu-west',
        gpuHours: '22.666667',
        charges: '63.466667',
        uplift: '1.200000',
        entries: 4,
      },
      {
        tenantId: f.tenants.beta,
        tenantName: 'beta',
        gpuModel: A100,
        region: 'us-east',
        gpuHours: '2.000000',
        charges: '2.400000',
        uplift: '0.000000',
        entries: 1,
      },
      {
        tenantId: f.tenants.beta,
        tenantName: 'beta',
        gpuModel: H100,
        region: 'eu-west',
        gpuHours: '2.222222',
        charges: '8.888889',
        uplift: '0.000000',
        entries: 1,
      },
    ]);
  });

  it('reconciles: charges plus uplift equal payouts plus fees, per day and in total, with no round breaking it', async () => {
    const response = await get(`/v1/reports/reconciliation?${JAN}`);
    expect(response.status).toBe(200);
    expect(response.body.totals).toEqual({
      charges: '74.755556',
      uplift: '1.200000',
      payouts: '68.360000',
      fees: '7.595556',
      difference: '0.000000',
      balanced: true,
      entries: 6,
    });
    // Without the uplift it would not: charges - payouts - fees is exactly minus the uplift.
    const t0 = response.body.totals;
    expect(new Money(t0.charges).minus(t0.payouts).minus(t0.fees).toFixed(6)).toBe('-1.200000');
    expect(response.body.rows.map((r: Record<string, unknown>) => [r.day, r.uplift, r.difference, r.balanced])).toEqual(
      [
        ['2030-01-01', '0.000000', '0.000000', true],
        ['2030-01-02', '1.200000', '0.000000', true],
      ],
    );
    expect(response.body.breaks).toEqual([]);
  });

  it('explains a round: supply and demand per pool, the marginal bid, winners, losers with reasons, status and gap', async () => {
    const response = await get(`/v1/reports/rounds/${f.rounds.r1}/audit`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const audit = response.body;
    expect(audit.round).toMatchObject({
      id: f.rounds.r1,
      solverStatus: 'optimal',
      welfare: '12.000000',
      upperBound: '12.500000',
      gap: '0.040000',
    });
    expect(audit.pools).toEqual([
      // The loser asked for eu-west only, so it is no demand in the us-east A100 pool.
      {
        gpuModel: A100,
        region: 'us-east',
        price: '1.00',
        nodePrices: { min: '1.00', median: '1.00', max: '1.00' },
        chargeVwap: null,
        supplyGpus: 8,
        soldGpus: 0,
        demandGpus: 0,
        wonGpus: 0,
        lostGpus: 0,
        marginalBid: null,
      },
      {
        gpuModel: H100,
        region: 'eu-west',
        price: '2.00',
        nodePrices: { min: '2.00', median: '2.00', max: '2.50' },
        chargeVwap: '2.50',
        supplyGpus: 16,
        soldGpus: 8,
        demandGpus: 16,
        wonGpus: 8,
        lostGpus: 8,
        marginalBid: { id: f.bids.lost, kind: 'bid', tenantId: f.tenants.beta, limit: '2.00' },
      },
    ]);
    expect(audit.demandGpus).toBe(16);
    expect(audit.winners).toEqual([
      {
        bidId: f.bids.b1,
        leaseId: f.leases.l1,
        tenantId: f.tenants.acme,
        gpuModel: H100,
        gpus: 8,
        limitPrice: '3.50',
        preemptible: false,
        state: 'completed',
        unitPrice: '2.50',
        uplift: '0.00',
        nodes: [
          {
            nodeId: f.nodes.n1,
            providerId: f.providers.p1,
            region: 'eu-west',
            gpus: 8,
            roundNodePrice: '2.50',
            unitPrice: '2.50',
            nodePrice: '2.50',
            uplift: '0.00',
          },
        ],
      },
    ]);
    expect(audit.losers).toEqual([
      {
        bidId: f.bids.lost,
        tenantId: f.tenants.beta,
        reason: 'outbid',
        paradoxicallyRejected: null,
        gpus: 8,
        contiguity: 'node',
        regions: ['eu-west'],
        offers: [
          { gpuModel: H100, maxPrice: '2.00' },
          { gpuModel: A100, maxPrice: '1.10' },
        ],
      },
    ]);
  });

  it("shows a capped winner's unit price and uplift, and a loser the round's node prices could not keep out, with the reason", async () => {
    const response = await get(`/v1/reports/rounds/${f.rounds.r5}/audit`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const audit = response.body;
    expect(audit.pools).toEqual([
      {
        gpuModel: H100,
        region: 'eu-west',
        price: '4.00',
        nodePrices: { min: '4.00', median: '4.00', max: '4.50' },
        chargeVwap: '4.10',
        supplyGpus: 16,
        soldGpus: 16,
        demandGpus: 20,
        wonGpus: 16,
        lostGpus: 4,
        marginalBid: { id: f.bids.b3, kind: 'bid', tenantId: f.tenants.beta, limit: '5.00' },
      },
    ]);
    const winners = [
      {
        bidId: f.bids.b3,
        leaseId: f.leases.l3,
        tenantId: f.tenants.beta,
        gpuModel: H100,
        gpus: 8,
        limitPrice: '5.00',
        preemptible: false,
        state: 'completed',
        unitPrice: '4.00',
        uplift: '0.00',
        nodes: [
          {
            nodeId: f.nodes.n3,
            providerId: f.providers.p2,
            region: 'eu-west',
            gpus: 8,
            roundNodePrice: '4.00',
            unitPrice: '4.00',
            nodePrice: '4.00',
            uplift: '0.00',
          },
        ],
      },
      {
        bidId: f.bids.b4,
        leaseId: f.leases.l4,
        tenantId: f.tenants.acme,
        gpuModel: H100,
        gpus: 8,
        limitPrice: '4.20',
        preemptible: false,
        state: 'completed',
        unitPrice: '4.20',
        uplift: '0.30',
        nodes: [
          {
            nodeId: f.nodes.n1,
            providerId: f.providers.p1,
            region: 'eu-west',
            gpus: 8,
            roundNodePrice: '4.50',
            unitPrice: '4.20',
            nodePrice: '4.50',
            uplift: '0.30',
          },
        ],
      },
    ].sort((a, b) => (a.leaseId < b.leaseId ? -1 : 1));
    expect(audit.winners).toEqual(winners);
    expect(audit.losers).toEqual([
      {
        bidId: f.bids.lost2,
        tenantId: f.tenants.beta,
        reason: 'outbid',
        paradoxicallyRejected: { reason: 'indivisible', gpuModel: H100, cheapestPrice: '4.25' },
        gpus: 4,
        contiguity: 'node',
        regions: [],
        offers: [{ gpuModel: H100, maxPrice: '4.30' }],
      },
    ]);
    const csv = parse((await get(`/v1/reports/rounds/${f.rounds.r5}/audit?format=csv`)).text, {
      columns: true,
    }) as Array<Record<string, string>>;
    expect(
      csv.map((r) => [r.outcome, r.bidId, r.unitPrice, r.uplift, r.paradoxicallyRejected, r.cheapestPrice]),
    ).toEqual([
      ...winners.map((w) => ['won', w.bidId, w.unitPrice, w.uplift, '', '']),
      ['lost', f.bids.lost2, '', '', 'indivisible', '4.25'],
    ]);
  });

  it('gives revenue per tenant with payouts and fees, the take rate, and the totals of one pool', async () => {
    const byTenant = await get(`/v1/reports/revenue?${JAN}&groupBy=tenant`);
    expect(byTenant.status, JSON.stringify(byTenant.body)).toBe(200);
    expect(byTenant.body.rows).toEqual([
      // acme: E1 + E2 + E5 + E6 (8 GPUs x (3600 + 3600 + 1200 + 1800) s); beta: E3 + E4.
      {
        tenantId: f.tenants.acme,
        tenantName: 'acme',
        gpuHours: '22.666667',
        charges: '63.466667',
        uplift: '1.200000',
        payouts: '58.200000',
        fees: '6.466667',
        netFees: '5.266667',
        entries: 4,
      },
      {
        tenantId: f.tenants.beta,
        tenantName: 'beta',
        gpuHours: '4.222222',
        charges: '11.288889',
        uplift: '0.000000',
        payouts: '10.160000',
        fees: '1.128889',
        netFees: '1.128889',
        entries: 2,
      },
    ]);
    // Net fees 6.395556 over charges 74.755556: the market keeps 8.5553% of what tenants pay.
    expect(byTenant.body.takeRate).toBe('0.085553');
    const csv = parse((await get(`/v1/reports/revenue?${JAN}&groupBy=tenant&format=csv`)).text, {
      columns: true,
    }) as Array<Record<string, string>>;
    expect(csv.map((r) => [r.tenantName, r.charges, r.payouts, r.fees])).toEqual([
      ['acme', '63.466667', '58.200000', '6.466667'],
      ['beta', '11.288889', '10.160000', '1.128889'],
    ]);

    const a100 = await get(`/v1/reports/revenue?${JAN}&groupBy=provider&gpuModel=${A100}&region=us-east`);
    expect(a100.body.rows).toEqual([
      expect.objectContaining({
        providerId: f.providers.p2,
        charges: '2.400000',
        payouts: '2.160000',
        fees: '0.240000',
        entries: 1,
      }),
    ]);
    expect(a100.body.totals).toMatchObject({ gpuHours: '2.000000', charges: '2.400000', entries: 1 });
    expect(a100.body.takeRate).toBe('0.100000');
    expect((await get(`/v1/reports/revenue?${JAN}&gpuModel=${A100}&region=nowhere`)).body.takeRate).toBeNull();
    const bad = await get(`/v1/reports/revenue?${JAN}&groupBy=customer`);
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([expect.objectContaining({ field: 'groupBy' })]);
  });

  it('gives per pool the index now and a day before, the price to win now as a quote gives it, GPU-hours and preemptions per preemptible GPU-hour', async () => {
    const range = 'from=2030-01-01T00:00:00Z&to=2030-01-02T12:00:00Z';
    const response = await get(`/v1/reports/pools?${range}`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    // The latest node prices are r5's: n3 at 4.00 is the cheapest free H100 in eu-west, n2 at 0.953125 the only A100.
    expect(response.body.rows).toEqual([
      // A100: last priced by r2 (01:00), which was also in force 24 h before 2030-01-02T12:00. E3: 4 GPUs x 1800 s.
      {
        gpuModel: A100,
        region: 'us-east',
        roundId: f.rounds.r2,
        periodStart: '2030-01-01T01:00:00.000Z',
        index: '1.20',
        nodePrices: { min: '1.20', median: '1.20', max: '1.20' },
        indexDayAgo: '1.20',
        change24h: '0.00',
        changePercent24h: '0.00',
        priceToWin: '0.953125',
        priceToWinReason: null,
        gpuHours: '2.000000',
        preemptibleGpuHours: '0.000000',
        preemptions: 0,
        preemptionsPerPreemptibleGpuHour: null,
      },
      // H100: r5's 4.00 now; 24 h earlier r3's 2.50 was in force (the abandoned round's 99.00 never was): +1.50, +60%.
      // E1 + E2 + E4 + E5 + E6: 8 GPUs x (3600 + 3600 + 1000 + 1200 + 1800) s = 24.888889 GPU-hours.
      {
        gpuModel: H100,
        region: 'eu-west',
        roundId: f.rounds.r5,
        periodStart: '2030-01-02T00:00:00.000Z',
        index: '4.00',
        nodePrices: { min: '4.00', median: '4.00', max: '4.50' },
        indexDayAgo: '2.50',
        change24h: '1.50',
        changePercent24h: '60.00',
        priceToWin: '4.000000',
        priceToWinReason: null,
        gpuHours: '24.888889',
        preemptibleGpuHours: '0.000000',
        preemptions: 0,
        preemptionsPerPreemptibleGpuHour: null,
      },
    ]);
    // The same figure a tenant's quote for the most flexible 1-GPU bid gives.
    const quote = await t
      .http()
      .post('/v1/quotes')
      .set(auth(tenantKey))
      .send({
        gpus: 1,
        offers: [{ gpuModel: H100, maxPrice: '10000' }],
        contiguity: 'none',
        preemptible: false,
        runtimeSeconds: 3600,
        regions: ['eu-west'],
        workload: { command: ['true'] },
      });
    expect(quote.status, JSON.stringify(quote.body)).toBe(200);
    const option = quote.body.offers[0].options.find(
      (o: { contiguity: string; preemptible: boolean; timing: string }) =>
        o.contiguity === 'none' && !o.preemptible && o.timing === 'now',
    );
    expect(option.priceToWin).toBe('4.000000');

    // A pool filter; before any round the pool has no index and no change.
    expect(
      (await get(`/v1/reports/pools?${range}&gpuModel=${A100}`)).body.rows.map((r: { gpuModel: string }) => r.gpuModel),
    ).toEqual([A100]);
    const early = (await get(`/v1/reports/pools?from=2029-12-31T00:00:00Z&to=2030-01-01T00:00:00Z&region=us-east`)).body
      .rows;
    expect(early).toEqual([]);
    const csv = parse((await get(`/v1/reports/pools?${range}&format=csv`)).text, { columns: true }) as Array<
      Record<string, string>
    >;
    expect(
      csv.map((r) => [
        r.gpuModel,
        r.index,
        r.nodePriceMax,
        r.change24h,
        r.changePercent24h,
        r.priceToWin,
        r.preemptionsPerPreemptibleGpuHour,
      ]),
    ).toEqual([
      [A100, '1.20', '1.20', '0.00', '0.00', '0.953125', ''],
      [H100, '4.00', '4.50', '1.50', '60.00', '4.000000', ''],
    ]);
    expect((await get(`/v1/reports/pools?${range}`, tenantKey)).status).toBe(403);
  });

  it('names the tenants, providers and nodes behind the ids of a round audit', async () => {
    const audit = (await get(`/v1/reports/rounds/${f.rounds.r5}/audit`)).body;
    expect(audit.names).toEqual({
      tenants: { [f.tenants.acme]: 'acme', [f.tenants.beta]: 'beta' },
      providers: { [f.providers.p1]: 'p1', [f.providers.p2]: 'p2' },
      nodes: { [f.nodes.n1]: 'n1', [f.nodes.n3]: 'n3' },
    });
  });

  it('describes every report in the OpenAPI document, and not the dashboard page', async () => {
    const paths = Object.keys((await t.http().get('/docs/openapi.json')).body.paths);
    expect(paths.filter((p) => p.startsWith('/v1/reports/')).sort()).toEqual([
      '/v1/reports/clearing-prices',
      '/v1/reports/node-prices',
      '/v1/reports/pools',
      '/v1/reports/reconciliation',
      '/v1/reports/revenue',
      '/v1/reports/rounds/{id}/audit',
      '/v1/reports/tenant-charges',
      '/v1/reports/utilization',
    ]);
    expect(paths.some((p) => p.startsWith('/dashboard'))).toBe(false);
  });

  it('answers 404 for an unknown round', async () => {
    expect((await get('/v1/reports/rounds/6f1c1c1e-1111-4111-8111-111111111111/audit')).status).toBe(404);
    expect((await get('/v1/reports/rounds/not-a-round/audit')).status).toBe(404);
  });

  it('serves CSV on ?format=csv or Accept: text/csv that parses back to the same figures as the JSON', async () => {
    const json = await get(`/v1/reports/clearing-prices?${JAN}&bucket=1d`);
    const csv = await get(`/v1/reports/clearing-prices?${JAN}&bucket=1d&format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const rows = parse(csv.text, { columns: true }) as Array<Record<string, string>>;
    type PriceRow = Record<string, unknown> & {
      marginalBid: { id: string; limit: string } | null;
      nodePrices: { min: string; median: string; max: string };
    };
    expect(rows).toEqual(
      json.body.rows.map(({ marginalBid, nodePrices, ...row }: PriceRow) => ({
        ...Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? '' : String(v)])),
        nodePriceMin: nodePrices.min,
        nodePriceMedian: nodePrices.median,
        nodePriceMax: nodePrices.max,
        marginalBidId: marginalBid?.id ?? '',
        marginalBidLimit: marginalBid?.limit ?? '',
      })),
    );

    for (const path of [
      `revenue?${JAN}&groupBy=provider`,
      `tenant-charges?${JAN}`,
      `utilization?${JAN}&bucket=1h`,
      `node-prices?${JAN}`,
    ]) {
      const asJson = await get(`/v1/reports/${path}`);
      const asCsv = await get(`/v1/reports/${path}`).set('Accept', 'text/csv');
      expect(asCsv.headers['content-type'], path).toMatch(/^text\/csv/);
      const stringified = asJson.body.rows.map((row: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? '' : String(v)])),
      );
      expect(parse(asCsv.text, { columns: true }), path).toEqual(stringified);
    }
  });

  it('serves the reconciliation and a round audit as CSV too', async () => {
    const reconciliation = parse((await get(`/v1/reports/reconciliation?${JAN}&format=csv`)).text, {
      columns: true,
    }) as Array<Record<string, string>>;
    expect(
      reconciliation.map((r) => [r.scope, r.day, r.charges, r.uplift, r.payouts, r.fees, r.difference, r.balanced]),
    ).toEqual([
      ['day', '2030-01-01', '49.066667', '0.000000', '44.160000', '4.906667', '0.000000', 'true'],
      ['day', '2030-01-02', '25.688889', '1.200000', '24.200000', '2.688889', '0.000000', 'true'],
      ['total', '', '74.755556', '1.200000', '68.360000', '7.595556', '0.000000', 'true'],
    ]);
    const audit = parse((await get(`/v1/reports/rounds/${f.rounds.r1}/audit?format=csv`)).text, {
      columns: true,
    }) as Array<Record<string, string>>;
    expect(audit.map((r) => [r.outcome, r.bidId, r.reason, r.unitPrice, r.paradoxicallyRejected, r.offers])).toEqual([
      ['won', f.bids.b1, '', '2.50', '', ''],
      ['lost', f.bids.lost, 'outbid', '', '', `${H100}@2.00 ${A100}@1.10`],
    ]);
  });

  it('refuses a tenant key (403) and a missing key (401) on every finance report; admin may read them', async () => {
    for (const path of [
      'clearing-prices',
      'revenue',
      'tenant-charges',
      'utilization',
      'reconciliation',
      `rounds/${f.rounds.r1}/audit`,
      'node-prices',
    ]) {
      expect((await get(`/v1/reports/${path}`, tenantKey)).status, path).toBe(403);
      expect((await t.http().get(`/v1/reports/${path}`)).status, path).toBe(401);
      expect((await get(`/v1/reports/${path}`, t.adminKey)).status, path).toBe(200);
    }
  });

  describe('node prices', () => {
    type Row = Record<string, string>;
    // Every committed round's node prices (the abandoned round's 99.00 is not one), oldest first, nodes in id order.
    const expected = () => {
      const rows: Row[] = [];
      const at = (periodStart: string, roundId: string, prices: Array<[node: 'n1' | 'n2' | 'n3', price: string]>) => {
        const ordered = prices
          .map(([n, price]) => ({ n, price }))
          .sort((a, b) => (f.nodes[a.n] < f.nodes[b.n] ? -1 : 1));
        for (const { n, price } of ordered) {
          const provider = n === 'n1' ? f.providers.p1 : f.providers.p2;
          const [gpuModel, region, reservePrice] = n === 'n2' ? [A100, 'us-east', '0.90'] : [H100, 'eu-west', '1.50'];
          const rent = new Money(price).minus(reservePrice);
          rows.push({
            roundId,
            periodStart,
            nodeId: f.nodes[n],
            externalId: n,
            providerId: provider,
            gpuModel,
            region,
            reservePrice,
            price,
            rent: rent.toFixed(Math.max(2, rent.decimalPlaces())),
          });
        }
      };
      at('2030-01-01T00:00:00.000Z', f.rounds.r1, [
        ['n1', '2.50'],
        ['n3', '2.00'],
        ['n2', '1.00'],
      ]);
      at('2030-01-01T01:00:00.000Z', f.rounds.r2, [
        ['n1', '3.50'],
        ['n3', '3.00'],
        ['n2', '1.20'],
      ]);
      at('2030-01-01T02:00:00.000Z', f.rounds.r3, [
        ['n1', '2.75'],
        ['n3', '2.50'],
      ]);
      at('2030-01-02T00:00:00.000Z', f.rounds.r5, [
        ['n1', '4.50'],
        ['n3', '4.00'],
        ['n2', '0.953125'],
      ]);
      return rows;
    };

    it('gives finance every node of every committed round: reserve, price and rent, exact to the micro-unit', async () => {
      const response = await get(`/v1/reports/node-prices?${JAN}`);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.body).toEqual({
        from: '2030-01-01T00:00:00.000Z',
        to: '2030-01-03T00:00:00.000Z',
        rows: expected(),
        nextCursor: null,
      });
      expect(response.body.rows.find((r: Row) => r.price === '0.953125')).toMatchObject({
        nodeId: f.nodes.n2,
        reservePrice: '0.90',
        rent: '0.053125',
      });
      expect((await get(`/v1/reports/node-prices?${JAN}`, t.adminKey)).body.rows).toEqual(expected());
    });

    it('filters by provider, node, GPU model and region', async () => {
      const rows = async (query: string) =>
        (await get(`/v1/reports/node-prices?${JAN}&${query}`)).body.rows.map((r: Row) => `${r.externalId}@${r.price}`);
      expect(await rows(`provider=${f.providers.p1}`)).toEqual(['n1@2.50', 'n1@3.50', 'n1@2.75', 'n1@4.50']);
      expect(await rows(`node=${f.nodes.n3}`)).toEqual(['n3@2.00', 'n3@3.00', 'n3@2.50', 'n3@4.00']);
      expect(await rows(`gpuModel=${A100}`)).toEqual(['n2@1.00', 'n2@1.20', 'n2@0.953125']);
      expect(await rows(`region=us-east&provider=${f.providers.p1}`)).toEqual([]);
      expect((await get(`/v1/reports/node-prices?${JAN}&provider=p1`)).body.details).toEqual([
        expect.objectContaining({ field: 'provider', rule: 'is_uuid' }),
      ]);
    });

    it("lets a provider read its own nodes' prices only, and no tenant any", async () => {
      const own = await get(`/v1/reports/node-prices?${JAN}`, f.providerKeys.p1);
      expect(own.status, JSON.stringify(own.body)).toBe(200);
      expect(own.body.rows).toEqual(expected().filter((r) => r.providerId === f.providers.p1));
      expect(
        (await get(`/v1/reports/node-prices?${JAN}&provider=${f.providers.p1}`, f.providerKeys.p1)).body.rows,
      ).toHaveLength(4);
      // Another provider's node matches nothing; naming another provider is refused.
      expect((await get(`/v1/reports/node-prices?${JAN}&node=${f.nodes.n3}`, f.providerKeys.p1)).body.rows).toEqual([]);
      const other = await get(`/v1/reports/node-prices?${JAN}&provider=${f.providers.p2}`, f.providerKeys.p1);
      expect(other.status).toBe(403);
      expect(other.body.error).toBe('role_not_allowed');
      expect(
        (await get(`/v1/reports/node-prices?${JAN}`, f.providerKeys.p2)).body.rows.map((r: Row) => r.externalId).sort(),
      ).toEqual(['n2', 'n2', 'n2', 'n3', 'n3', 'n3', 'n3']);
      const tenant = await get(`/v1/reports/node-prices?${JAN}`, tenantKey);
      expect(tenant.status).toBe(403);
      expect(tenant.body.error).toBe('role_not_allowed');
      // The other reports stay finance's.
      expect((await get(`/v1/reports/clearing-prices?${JAN}`, f.providerKeys.p1)).status).toBe(403);
    });

    it('pages oldest first with a cursor, in JSON and CSV alike', async () => {
      const pages: Row[][] = [];
      let cursor: string | null = null;
      do {
        const response = await get(`/v1/reports/node-prices?${JAN}&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        expect(response.headers['x-next-cursor']).toBe(response.body.nextCursor ?? undefined);
        pages.push(response.body.rows);
        cursor = response.body.nextCursor;
      } while (cursor !== null && pages.length < 10);
      expect(pages.map((p) => p.length)).toEqual([4, 4, 3]);
      expect(pages.flat()).toEqual(expected());

      const first = await get(`/v1/reports/node-prices?${JAN}&limit=4&format=csv`);
      expect(first.headers['content-type']).toMatch(/^text\/csv/);
      const second = await get(
        `/v1/reports/node-prices?${JAN}&limit=4&format=csv&cursor=${first.headers['x-next-cursor']}`,
      );
      expect([...parse(first.text, { columns: true }), ...parse(second.text, { columns: true })]).toEqual(
        expected().slice(0, 8),
      );

      expect((await get(`/v1/reports/node-prices?${JAN}&cursor=bm90LWEtY3Vyc29y`)).body.details).toEqual([
        expect.objectContaining({ field: 'cursor', rule: 'is_cursor' }),
      ]);
      expect((await get(`/v1/reports/node-prices?${JAN}&limit=10001`)).status).toBe(400);
      expect(
        (await get('/v1/reports/node-prices?from=2030-01-01T00:00:00Z&to=2030-02-10T00:00:01Z')).body.details,
      ).toEqual([expect.objectContaining({ field: 'to', rule: 'max_span' })]);
    });
  });

  it('validates ranges: from before to, at most REPORT_MAX_SPAN_DAYS, known buckets and formats, no unknown fields', async () => {
    const rules = async (query: string) => {
      const response = await get(`/v1/reports/revenue?${query}`);
      expect(response.status, query).toBe(400);
      return response.body.details.map((d: { field: string; rule: string }) => `${d.field}:${d.rule}`);
    };
    expect(await rules('from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z')).toEqual(['to:after_from']);
    expect(await rules('from=2030-01-01T00:00:00Z&to=2030-02-10T00:00:01Z')).toEqual(['to:max_span']);
    expect((await get('/v1/reports/revenue?from=2030-01-01T00:00:00Z&to=2030-02-10T00:00:00Z')).status).toBe(200);
    expect(await rules('from=yesterday')).toEqual(['from:is_instant']);
    expect(await rules('groupBy=customer')).toEqual(['groupBy:is_in']);
    expect(await rules('format=xml')).toEqual(['format:is_in']);
    expect(await rules('limit=5')).toEqual(['limit:unknown_field']);
    expect((await get('/v1/reports/clearing-prices?bucket=5m')).status).toBe(400);
    // 40 days of minutes is more buckets than a report builds.
    const tooFine = await get(
      '/v1/reports/clearing-prices?from=2030-01-01T00:00:00Z&to=2030-02-01T00:00:00Z&bucket=1m',
    );
    expect(tooFine.body.details).toEqual([expect.objectContaining({ field: 'bucket', rule: 'too_many_buckets' })]);
  });

  it('names REPORT_MAX_SPAN_DAYS when it is not a whole number of days in range', () => {
    expect(loadConfig({}).reportMaxSpanDays).toBe(92);
    expect(() => loadConfig({ REPORT_MAX_SPAN_DAYS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ REPORT_MAX_SPAN_DAYS: '1.5' })).toThrow(/REPORT_MAX_SPAN_DAYS/);
  });

  // Last: it drops the ledger's own balance check to write a broken entry, which the report must catch.
  it('shows a difference and links the round when an entry does not balance', async () => {
    const [check] = await t.dataSource.query(
      `SELECT conname FROM pg_constraint WHERE conrelid = 'ledger_entries'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%payout + fee%'`,
    );
    await t.dataSource.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ${check.conname}`);
    await t.dataSource.query(
      `INSERT INTO ledger_entries (round_id, lease_id, bid_id, tenant_id, provider_id, node_id, gpu_model, region, period_start, period_end, seconds, gpus, unit_price, node_price, charge, fee, payout)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'eu-west', '2030-01-01T01:00:00Z', '2030-01-01T01:10:00Z', 600, 1, '6.00', '6.00', '1.000000', '0.100000', '0.899999')`,
      [f.rounds.r2, f.leases.l1, f.bids.b1, f.tenants.acme, f.providers.p1, f.nodes.n1, H100],
    );
    // A capped entry whose uplift was written short: 3.00 charged + 0.40 uplift against a gross of 3.50.
    await t.dataSource.query(
      `INSERT INTO ledger_entries (round_id, lease_id, bid_id, tenant_id, provider_id, node_id, gpu_model, region, period_start, period_end, seconds, gpus, unit_price, node_price, charge, uplift, fee, payout)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'eu-west', '2030-01-02T00:30:00Z', '2030-01-02T00:40:00Z', 600, 6, '3.00', '3.50', '3.000000', '0.400000', '0.350000', '3.150000')`,
      [f.rounds.r5, f.leases.l4, f.bids.b4, f.tenants.acme, f.providers.p1, f.nodes.n1, H100],
    );
    const response = await get(`/v1/reports/reconciliation?${JAN}`);
    expect(response.body.totals).toMatchObject({ uplift: '1.600000', difference: '-0.099999', balanced: false });
    expect(response.body.breaks).toEqual([
      expect.objectContaining({
        roundId: f.rounds.r2,
        link: `/v1/reports/rounds/${f.rounds.r2}/audit`,
        difference: '0.000001',
        balanced: false,
      }),
      expect.objectContaining({
        roundId: f.rounds.r5,
        link: `/v1/reports/rounds/${f.rounds.r5}/audit`,
        uplift: '1.600000',
        difference: '-0.100000',
        balanced: false,
      }),
    ]);
    expect(response.body.rows[0]).toMatchObject({ day: '2030-01-01', balanced: false });
    expect(response.body.rows[1]).toMatchObject({ day: '2030-01-02', difference: '-0.100000', balanced: false });
  });
});

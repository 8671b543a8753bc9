import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    const finance = await t.http().post('/v1/api-keys').set(auth(t.adminKey)).send({ role: 'finance', name: 'finance team' });
    expect(finance.status).toBe(201);
    financeKey = finance.body.apiKey;
    tenantKey = (await createTenant(t, 'curious tenant')).apiKey;
  });
  afterAll(async () => t?.close());

  it('gives daily OHLC, VWAP, GPU-hours and the marginal bid behind each close per pool, ignoring abandoned rounds', async () => {
    const response = await get(`/v1/reports/clearing-prices?${JAN}&bucket=1d`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({ from: '2030-01-01T00:00:00.000Z', to: '2030-01-03T00:00:00.000Z', bucket: '1d', roundPeriodSeconds: 3600 });
    expect(response.body.rows).toEqual([
      // A100/us-east, day 1: 1.00 (0 sold), 1.20 (4 sold): VWAP 4.8 / 4 = 1.20; the reserve set both prices.
      { gpuModel: A100, region: 'us-east', bucketStart: '2030-01-01T00:00:00.000Z', open: '1.00', high: '1.20', low: '1.00', close: '1.20', vwap: '1.20', gpuHours: '4.000000', rounds: 2, closeRoundId: f.rounds.r2, marginalBid: null },
      // H100/eu-west, day 1: 2.00 x 8, 3.00 x 16, 2.50 x 8: VWAP 84 / 32 = 2.625; the 99.00 of the abandoned round is not a price.
      { gpuModel: H100, region: 'eu-west', bucketStart: '2030-01-01T00:00:00.000Z', open: '2.00', high: '3.00', low: '2.00', close: '2.50', vwap: '2.625', gpuHours: '32.000000', rounds: 3, closeRoundId: f.rounds.r3, marginalBid: { id: f.bids.b1, limit: '3.50' } },
      { gpuModel: H100, region: 'eu-west', bucketStart: '2030-01-02T00:00:00.000Z', open: '4.00', high: '4.00', low: '4.00', close: '4.00', vwap: '4.00', gpuHours: '4.000000', rounds: 1, closeRoundId: f.rounds.r5, marginalBid: { id: f.bids.b3, limit: '5.00' } },
    ]);
  });

  it('buckets by the hour and filters by pool; a lease that set the price shows its limit', async () => {
    const response = await get(`/v1/reports/clearing-prices?from=2030-01-01T00:00:00Z&to=2030-01-01T04:00:00Z&bucket=1h&gpuModel=${H100}&region=eu-west`);
    expect(response.status).toBe(200);
    expect(response.body.rows.map((r: Record<string, unknown>) => [r.bucketStart, r.close, r.vwap, r.gpuHours, r.marginalBid])).toEqual([
      ['2030-01-01T00:00:00.000Z', '2.00', '2.00', '8.000000', { id: f.bids.lost, limit: '2.00' }],
      ['2030-01-01T01:00:00.000Z', '3.00', '3.00', '16.000000', { id: f.leases.l1, limit: '3.50' }],
      ['2030-01-01T02:00:00.000Z', '2.50', '2.50', '8.000000', { id: f.bids.b1, limit: '3.50' }],
    ]);
  });

  it('gives utilisation per pool and day as sold over available GPU-hours', async () => {
    const response = await get(`/v1/reports/utilization?${JAN}&bucket=1d`);
    expect(response.status).toBe(200);
    expect(response.body.rows).toEqual([
      { gpuModel: A100, region: 'us-east', bucketStart: '2030-01-01T00:00:00.000Z', soldGpuHours: '4.000000', availableGpuHours: '16.000000', utilization: '0.250000' },
      { gpuModel: H100, region: 'eu-west', bucketStart: '2030-01-01T00:00:00.000Z', soldGpuHours: '32.000000', availableGpuHours: '48.000000', utilization: '0.666667' },
      { gpuModel: H100, region: 'eu-west', bucketStart: '2030-01-02T00:00:00.000Z', soldGpuHours: '4.000000', availableGpuHours: '8.000000', utilization: '0.500000' },
    ]);
  });

  it('gives revenue per UTC day with totals, exact to the micro-unit', async () => {
    const response = await get(`/v1/reports/revenue?${JAN}&groupBy=day`);
    expect(response.status).toBe(200);
    expect(response.body.rows).toEqual([
      // E1 + E2 + E3 + E5: 74,400 GPU-seconds; 16 + 24 + 2.4 + 6.666667.
      { day: '2030-01-01', gpuHours: '20.666667', charges: '49.066667', payouts: '44.160000', fees: '4.906667', entries: 4 },
      { day: '2030-01-02', gpuHours: '2.222222', charges: '8.888889', payouts: '8.000000', fees: '0.888889', entries: 1 },
    ]);
    expect(response.body.totals).toEqual({ gpuHours: '22.888889', charges: '57.955556', payouts: '52.160000', fees: '5.795556', entries: 5 });
  });

  it('gives revenue per provider and per pool', async () => {
    const byProvider = await get(`/v1/reports/revenue?${JAN}&groupBy=provider`);
    expect(byProvider.body.rows).toEqual([
      { providerId: f.providers.p1, providerName: 'p1', gpuHours: '18.666667', charges: '46.666667', payouts: '42.000000', fees: '4.666667', entries: 3 },
      { providerId: f.providers.p2, providerName: 'p2', gpuHours: '4.222222', charges: '11.288889', payouts: '10.160000', fees: '1.128889', entries: 2 },
    ]);
    const byPool = await get(`/v1/reports/revenue?${JAN}&groupBy=pool`);
    expect(byPool.body.rows).toEqual([
      { gpuModel: A100, region: 'us-east', gpuHours: '2.000000', charges: '2.400000', payouts: '2.160000', fees: '0.240000', entries: 1 },
      { gpuModel: H100, region: 'eu-west', gpuHours: '20.888889', charges: '55.555556', payouts: '50.000000', fees: '5.555556', entries: 4 },
    ]);
  });

  it('counts a ledger entry in the range holding the end of the interval it charges (ranges are [from, to))', async () => {
    // E4 ends at 2030-01-02T00:16:40Z: outside a range ending at that instant, inside one ending a second later.
    const before = await get('/v1/reports/revenue?from=2030-01-01T00:00:00Z&to=2030-01-02T00:16:40Z');
    expect(before.body.totals.entries).toBe(4);
    const after = await get('/v1/reports/revenue?from=2030-01-01T00:00:00Z&to=2030-01-02T00:16:41Z');
    expect(after.body.totals.entries).toBe(5);
  });

  it('gives charges per tenant and pool', async () => {
    const response = await get(`/v1/reports/tenant-charges?${JAN}`);
    expect(response.status).toBe(200);
    expect(response.body.rows).toEqual([
      { tenantId: f.tenants.acme, tenantName: 'acme', gpuModel: H100, region: 'eu-west', gpuHours: '18.666667', charges: '46.666667', entries: 3 },
      { tenantId: f.tenants.beta, tenantName: 'beta', gpuModel: A100, region: 'us-east', gpuHours: '2.000000', charges: '2.400000', entries: 1 },
      { tenantId: f.tenants.beta, tenantName: 'beta', gpuModel: H100, region: 'eu-west', gpuHours: '2.222222', charges: '8.888889', entries: 1 },
    ]);
  });

  it('reconciles: charges equal payouts plus fees, per day and in total, with no round breaking it', async () => {
    const response = await get(`/v1/reports/reconciliation?${JAN}`);
    expect(response.status).toBe(200);
    expect(response.body.totals).toEqual({ charges: '57.955556', payouts: '52.160000', fees: '5.795556', difference: '0.000000', balanced: true, entries: 5 });
    expect(response.body.rows.map((r: Record<string, unknown>) => [r.day, r.difference, r.balanced])).toEqual([
      ['2030-01-01', '0.000000', true],
      ['2030-01-02', '0.000000', true],
    ]);
    expect(response.body.breaks).toEqual([]);
  });

  it('explains a round: supply and demand per pool, the marginal bid, winners, losers with reasons, status and gap', async () => {
    const response = await get(`/v1/reports/rounds/${f.rounds.r1}/audit`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const audit = response.body;
    expect(audit.round).toMatchObject({ id: f.rounds.r1, solverStatus: 'optimal', welfare: '12.000000', upperBound: '12.500000', gap: '0.040000' });
    expect(audit.pools).toEqual([
      // The loser asked for eu-west only, so it is no demand in the us-east A100 pool.
      { gpuModel: A100, region: 'us-east', price: '1.00', supplyGpus: 8, soldGpus: 0, demandGpus: 0, wonGpus: 0, lostGpus: 0, marginalBid: null },
      { gpuModel: H100, region: 'eu-west', price: '2.00', supplyGpus: 16, soldGpus: 8, demandGpus: 16, wonGpus: 8, lostGpus: 8, marginalBid: { id: f.bids.lost, kind: 'bid', tenantId: f.tenants.beta, limit: '2.00' } },
    ]);
    expect(audit.demandGpus).toBe(16);
    expect(audit.winners).toEqual([
      {
        bidId: f.bids.b1, leaseId: f.leases.l1, tenantId: f.tenants.acme, gpuModel: H100, gpus: 8, limitPrice: '3.50', preemptible: false, state: 'completed',
        nodes: [{ nodeId: f.nodes.n1, providerId: f.providers.p1, region: 'eu-west', gpus: 8, unitPrice: '2.50' }],
      },
    ]);
    expect(audit.losers).toEqual([
      { bidId: f.bids.lost, tenantId: f.tenants.beta, reason: 'outbid', gpus: 8, contiguity: 'node', regions: ['eu-west'], offers: [{ gpuModel: H100, maxPrice: '2.00' }, { gpuModel: A100, maxPrice: '1.10' }] },
    ]);
  });

  it('describes every report in the OpenAPI document, and not the dashboard page', async () => {
    const paths = Object.keys((await t.http().get('/docs/openapi.json')).body.paths);
    expect(paths.filter((p) => p.startsWith('/v1/reports/')).sort()).toEqual([
      '/v1/reports/clearing-prices',
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
    expect(rows).toEqual(
      json.body.rows.map(({ marginalBid, ...row }: Record<string, unknown> & { marginalBid: { id: string; limit: string } | null }) => ({
        ...Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(v)])),
        marginalBidId: marginalBid?.id ?? '',
        marginalBidLimit: marginalBid?.limit ?? '',
      })),
    );

    for (const path of [`revenue?${JAN}&groupBy=provider`, `tenant-charges?${JAN}`, `utilization?${JAN}&bucket=1h`]) {
      const asJson = await get(`/v1/reports/${path}`);
      const asCsv = await get(`/v1/reports/${path}`).set('Accept', 'text/csv');
      expect(asCsv.headers['content-type'], path).toMatch(/^text\/csv/);
      const stringified = asJson.body.rows.map((row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? '' : String(v)])));
      expect(parse(asCsv.text, { columns: true }), path).toEqual(stringified);
    }
  });

  it('serves the reconciliation and a round audit as CSV too', async () => {
    const reconciliation = parse((await get(`/v1/reports/reconciliation?${JAN}&format=csv`)).text, { columns: true }) as Array<Record<string, string>>;
    expect(reconciliation.map((r) => [r.scope, r.day, r.charges, r.difference, r.balanced])).toEqual([
      ['day', '2030-01-01', '49.066667', '0.000000', 'true'],
      ['day', '2030-01-02', '8.888889', '0.000000', 'true'],
      ['total', '', '57.955556', '0.000000', 'true'],
    ]);
    const audit = parse((await get(`/v1/reports/rounds/${f.rounds.r1}/audit?format=csv`)).text, { columns: true }) as Array<Record<string, string>>;
    expect(audit.map((r) => [r.outcome, r.bidId, r.reason, r.offers])).toEqual([
      ['won', f.bids.b1, '', ''],
      ['lost', f.bids.lost, 'outbid', `${H100}@2.00 ${A100}@1.10`],
    ]);
  });

  it('refuses a tenant key (403) and a missing key (401) on every finance report; admin may read them', async () => {
    for (const path of ['clearing-prices', 'revenue', 'tenant-charges', 'utilization', 'reconciliation', `rounds/${f.rounds.r1}/audit`]) {
      expect((await get(`/v1/reports/${path}`, tenantKey)).status, path).toBe(403);
      expect((await t.http().get(`/v1/reports/${path}`)).status, path).toBe(401);
      expect((await get(`/v1/reports/${path}`, t.adminKey)).status, path).toBe(200);
    }
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
    expect(await rules('groupBy=tenant')).toEqual(['groupBy:is_in']);
    expect(await rules('format=xml')).toEqual(['format:is_in']);
    expect(await rules('limit=5')).toEqual(['limit:unknown_field']);
    expect((await get('/v1/reports/clearing-prices?bucket=5m')).status).toBe(400);
    // 40 days of minutes is more buckets than a report builds.
    const tooFine = await get('/v1/reports/clearing-prices?from=2030-01-01T00:00:00Z&to=2030-02-01T00:00:00Z&bucket=1m');
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
      `INSERT INTO ledger_entries (round_id, lease_id, bid_id, tenant_id, provider_id, node_id, gpu_model, region, period_start, period_end, seconds, gpus, unit_price, charge, fee, payout)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'eu-west', '2030-01-01T01:00:00Z', '2030-01-01T01:10:00Z', 600, 1, '6.00', '1.000000', '0.100000', '0.899999')`,
      [f.rounds.r2, f.leases.l1, f.bids.b1, f.tenants.acme, f.providers.p1, f.nodes.n1, H100],
    );
    const response = await get(`/v1/reports/reconciliation?${JAN}`);
    expect(response.body.totals).toMatchObject({ difference: '0.000001', balanced: false });
    expect(response.body.breaks).toEqual([
      expect.objectContaining({ roundId: f.rounds.r2, link: `/v1/reports/rounds/${f.rounds.r2}/audit`, difference: '0.000001', balanced: false }),
    ]);
    expect(response.body.rows[0]).toMatchObject({ day: '2030-01-01', balanced: false });
  });
});

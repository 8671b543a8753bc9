import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Money } from '../../src/core/money/money.js';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const H100 = 'H100-SXM-80GB';
const HOUR = Date.UTC(2031, 0, 2);

describe('POST /v1/quotes on real PostgreSQL', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  let provider: { id: string; apiKey: string };
  const quote = (body: Record<string, unknown>, key = tenant.apiKey) => t.http().post('/v1/quotes').set(auth(key)).send(bidBody(body));
  const window = () => ({ deadline: new Date(Date.now() + 86_400_000).toISOString() });

  beforeAll(async () => {
    t = await createTestApp();
    provider = await createProvider(t, 'quoted');
    tenant = await createTenant(t, 'asker');
    const other = await createTenant(t, 'filler');
    // eu-west stays idle; us-east is filled by one 8-GPU bid.
    await putNodes(t, provider.apiKey, [
      node('idle-1', { region: 'eu-west', reservePrice: '1.50' }),
      node('busy-1', { region: 'us-east', reservePrice: '1.00' }),
    ]);
    t.app.get(AdapterRegistry).use(provider.id, new SimulatedAdapter({ nodes: [{ externalId: 'idle-1', gpus: 8 }, { externalId: 'busy-1', gpus: 8 }] }));
    const filler = await t.http().post('/v1/bids').set(auth(other.apiKey)).send(bidBody({ gpus: 8, regions: ['us-east'], offers: [{ gpuModel: H100, maxPrice: '4.00' }] }));
    expect(filler.status).toBe(201);
    const round = await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2030, 0, 1)) });
    expect(round?.placements).toBe(1);

    // ap-south gets a known price history: 24 h of rounds at 4, 1, 2, 3 (latest), and two older, cheaper ones that fall outside.
    await putNodes(t, provider.apiKey, [
      node('idle-1', { region: 'eu-west', reservePrice: '1.50' }),
      node('busy-1', { region: 'us-east', reservePrice: '1.00' }),
      node('hist-1', { region: 'ap-south', reservePrice: '0.50' }),
    ]);
    const history: Array<[number, string]> = [[-26, '0.10'], [-25, '0.20'], [-23, '4.00'], [-12, '1.00'], [-1, '2.00'], [0, '3.00']];
    for (const [hours, price] of history) {
      const at = new Date(HOUR + hours * 3_600_000);
      const [r] = await t.dataSource.query(
        `INSERT INTO rounds (period_start, state, committed_at, solver_status, welfare) VALUES ($1, 'committed', $1, 'optimal', 0) RETURNING id`,
        [at],
      );
      await t.dataSource.query(
        `INSERT INTO pool_prices (round_id, period_start, gpu_model, region, price, supply_gpus, sold_gpus) VALUES ($1, $2, $3, 'ap-south', $4, 8, 8)`,
        [r.id, at, H100, price],
      );
    }
    // sa-east has nodes but has never been priced.
    await putNodes(t, provider.apiKey, [
      node('idle-1', { region: 'eu-west', reservePrice: '1.50' }),
      node('busy-1', { region: 'us-east', reservePrice: '1.00' }),
      node('hist-1', { region: 'ap-south', reservePrice: '0.50' }),
      node('new-1', { region: 'sa-east', reservePrice: '1.25' }),
    ]);
  });
  afterAll(async () => t?.close());

  it('quotes an idle pool at its reserve, as a winner, with the whole run costed exactly', async () => {
    const response = await quote({ gpus: 8, runtimeSeconds: 7200, regions: ['eu-west'], offers: [{ gpuModel: H100, maxPrice: '2.00' }] });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const [offer] = response.body.offers;
    expect(offer).toMatchObject({ gpuModel: H100, maxPrice: '2.00', wouldWinNow: true, region: 'eu-west', basis: 'history' });
    expect(offer.pools).toEqual([expect.objectContaining({ region: 'eu-west', price: '1.50', basis: 'current_price', freeGpus: 8, largestFreeGroup: 8, wouldWin: true, historyRounds: 1 })]);
    // 1.50 x 8 GPUs x 2 h; the one round of history is the current price, so every estimate is 24.
    expect(offer.estimates.nonPreemptibleNow).toEqual({ pricePerGpuHour: '1.50', cost: '24.000000', basis: 'current_price' });
    expect(offer.estimates.preemptibleNow).toEqual({ pricePerGpuHour: '1.50', cost: '24.000000', basis: 'current_price' });
    expect(offer.estimates.preemptibleWithinWindow).toBeNull();
  });

  it('quotes a congested pool as losing for want of free GPUs, at its clearing price', async () => {
    const [priced] = await t.dataSource.query(`SELECT price::text FROM pool_prices WHERE region = 'us-east'`);
    const response = await quote({ gpus: 4, runtimeSeconds: 3600, regions: ['us-east'], offers: [{ gpuModel: H100, maxPrice: '9.00' }] });
    const [offer] = response.body.offers;
    expect(offer.wouldWinNow).toBe(false);
    expect(offer.pools).toEqual([expect.objectContaining({ region: 'us-east', freeGpus: 0, largestFreeGroup: 0, wouldWin: false })]);
    expect(new Money(offer.pools[0].price).equals(priced.price)).toBe(true);
    expect(new Money(offer.estimates.nonPreemptibleNow.cost).equals(new Money(priced.price).times(4))).toBe(true);
  });

  it('prices preemptible work from the last 24 h of the pool: the median now, the 25th percentile within a window', async () => {
    const response = await quote({ gpus: 2, runtimeSeconds: 5400, contiguity: 'none', preemptible: true, window: window(), regions: ['ap-south'], offers: [{ gpuModel: H100, maxPrice: '5.00' }] });
    const [offer] = response.body.offers;
    expect(offer.pools[0]).toMatchObject({ region: 'ap-south', price: '3.00', historyRounds: 4, wouldWin: true });
    // In-window prices 4, 1, 2, 3: median (nearest rank) 2, 25th percentile 1; 2 GPUs x 1.5 h.
    expect(offer.estimates).toEqual({
      nonPreemptibleNow: { pricePerGpuHour: '3.00', cost: '9.000000', basis: 'current_price' },
      preemptibleNow: { pricePerGpuHour: '2.00', cost: '6.000000', basis: 'history_p50' },
      preemptibleWithinWindow: { pricePerGpuHour: '1.00', cost: '3.000000', basis: 'history_p25' },
    });
  });

  it('never expects a price above the offer limit, and says the offer would not win below the current price', async () => {
    const response = await quote({ gpus: 2, runtimeSeconds: 5400, contiguity: 'none', regions: ['ap-south'], offers: [{ gpuModel: H100, maxPrice: '2.50' }] });
    const [offer] = response.body.offers;
    expect(offer.wouldWinNow).toBe(false);
    expect(offer.estimates.nonPreemptibleNow).toEqual({ pricePerGpuHour: '2.50', cost: '7.500000', basis: 'current_price' });
  });

  it('falls back to the reserve floor for a pool never priced, and says so', async () => {
    const response = await quote({ gpus: 1, runtimeSeconds: 600, regions: ['sa-east'], offers: [{ gpuModel: H100, maxPrice: '3.00' }] });
    const [offer] = response.body.offers;
    expect(offer).toMatchObject({ wouldWinNow: true, region: 'sa-east', basis: 'reserve_floor' });
    // 1.25 x 1 GPU x 600 s / 3600 = 0.208333 (half-even at 6 places).
    expect(offer.estimates.nonPreemptibleNow).toEqual({ pricePerGpuHour: '1.25', cost: '0.208333', basis: 'reserve_floor' });
  });

  it('picks the cheapest pool that would win across allowed regions and reports no supply for a model nobody offers', async () => {
    const response = await quote({
      gpus: 8,
      contiguity: 'none',
      offers: [{ gpuModel: H100, maxPrice: '5.00' }, { gpuModel: 'A100-SXM-80GB', maxPrice: '5.00' }],
    });
    const [h100, a100] = response.body.offers;
    // us-east is full; of the pools that would win, sa-east (1.25) is cheaper than eu-west (1.50) and ap-south (3.00).
    expect(h100.pools.map((p: { region: string }) => p.region)).toEqual(['ap-south', 'eu-west', 'sa-east', 'us-east']);
    expect(h100).toMatchObject({ wouldWinNow: true, region: 'sa-east' });
    expect(a100).toEqual({ gpuModel: 'A100-SXM-80GB', maxPrice: '5.00', wouldWinNow: false, pools: [], region: null, basis: 'no_supply', estimates: null });
  });

  it('holds a quote to the rules of a bid and stores nothing', async () => {
    const [before] = await t.dataSource.query(`SELECT count(*)::int AS n FROM bids`);
    const zero = await quote({ gpus: 0 });
    expect(zero.status).toBe(400);
    expect(zero.body.details[0].field).toBe('gpus');
    const unknown = await quote({ offers: [{ gpuModel: 'Z9000', maxPrice: '1.00' }] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toEqual([expect.objectContaining({ field: 'offers[0].gpuModel', rule: 'unknown_gpu_model' })]);
    const tooBig = await quote({ gpus: 16, contiguity: 'node' });
    expect(tooBig.body.details).toEqual([expect.objectContaining({ field: 'gpus', rule: 'contiguity_impossible' })]);
    const extra = await quote({ colour: 'blue' });
    expect(extra.body.details[0]).toMatchObject({ field: 'colour', rule: 'unknown_field' });
    expect((await quote({}, provider.apiKey)).status).toBe(403);
    expect((await quote({ regions: ['eu-west'] })).status).toBe(200);
    const [after] = await t.dataSource.query(`SELECT count(*)::int AS n FROM bids`);
    expect(after.n).toBe(before.n);
  });
});

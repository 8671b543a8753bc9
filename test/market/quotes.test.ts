import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { past, until } from '../support/until.js';

const H100 = 'H100-SXM-80GB';
const T = Date.UTC(2031, 0, 2, 12);
const HOUR = 3_600_000;
const window = () => ({ deadline: new Date(Date.now() + 86_400_000).toISOString() });

type Option = { contiguity: string; preemptible: boolean; timing: string; [k: string]: unknown };
const pick = (options: Option[], contiguity: string, preemptible: boolean, timing = 'now') =>
  options.find((o) => o.contiguity === contiguity && o.preemptible === preemptible && o.timing === timing)!;
/** The options' prices in a compact table: "tier/p|n/timing" -> priceToWin, unitPrice, wouldWin, reason. */
const table = (options: Option[]) =>
  Object.fromEntries(
    options.map((o) => [
      `${o.contiguity}/${o.preemptible ? 'p' : 'n'}/${o.timing}`,
      [o.priceToWin, o.unitPrice, o.wouldWin, o.reason],
    ]),
  );

describe('POST /v1/quotes before any round has priced a node', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  beforeAll(async () => {
    t = await createTestApp();
    const provider = await createProvider(t, 'fresh');
    tenant = await createTenant(t, 'early');
    await putNodes(t, provider.apiKey, [
      node('f-1', { reservePrice: '1.20' }),
      node('f-2', { reservePrice: '0.90', gpus: 4 }),
    ]);
  });
  afterAll(async () => t?.close());

  it('prices every node at its reserve and says so', async () => {
    const response = await t
      .http()
      .post('/v1/quotes')
      .set(auth(tenant.apiKey))
      .send(bidBody({ gpus: 8, contiguity: 'node', window: window(), offers: [{ gpuModel: H100, maxPrice: '2.00' }] }));
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({ gpus: 8, contiguity: 'node', preemptible: false, wouldWinNow: true });
    expect(response.body.prices).toEqual({
      basis: 'reserves',
      roundId: null,
      periodStart: null,
      preemptionPenalty: '0.50',
      historyRounds: 0,
    });
    const [offer] = response.body.offers;
    expect(offer.options).toHaveLength(16);
    // An 8-GPU gang fits only f-1 on one node; anywhere, it takes f-2's 4 GPUs at 0.90 and 4 of f-1's at 1.20.
    expect(pick(offer.options, 'node', false)).toMatchObject({
      priceToWin: '1.200000',
      unitPrice: '1.200000',
      cost: '9.600000',
      basis: 'reserves',
      requested: false,
    });
    expect(pick(offer.options, 'node', false, 'window')).toMatchObject({
      priceToWin: '1.200000',
      basis: 'reserves',
      requested: true,
      history: { rounds: 0, available: 0 },
    });
    expect(pick(offer.options, 'none', false)).toMatchObject({
      priceToWin: '1.200000',
      unitPrice: '1.050000',
      wouldWin: true,
      placement: { regions: ['eu-west'], nodes: 2, displacesGpus: 0 },
    });
  });
});

describe('POST /v1/quotes on real PostgreSQL, from node prices', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  let provider: { id: string; apiKey: string };
  const ids = new Map<string, string>();
  const quote = (body: Record<string, unknown>, key = tenant.apiKey) =>
    t.http().post('/v1/quotes').set(auth(key)).send(bidBody(body));

  async function round(at: number, prices: Record<string, string> | null): Promise<string> {
    const [r] = await t.dataSource.query(
      `INSERT INTO rounds (period_start, state, committed_at, solver_status, welfare) VALUES ($1, 'committed', $1, 'optimal', 0) RETURNING id`,
      [new Date(at)],
    );
    for (const [name, price] of Object.entries(prices ?? {}))
      await t.dataSource.query(
        `INSERT INTO node_prices (round_id, period_start, node_id, provider_id, gpu_model, region, reserve_price, price)
         SELECT $1, $2, n.id, n.provider_id, n.gpu_model, n.region, n.reserve_price, $4 FROM nodes n WHERE n.id = $3`,
        [r.id, new Date(at), ids.get(name), price],
      );
    return r.id;
  }

  async function lease(
    roundId: string,
    name: string,
    gpus: number,
    over: { preemptible: boolean; state: string; protectedUntil?: Date; endedAt?: Date },
  ): Promise<void> {
    const bid = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ gpus, offers: [{ gpuModel: H100, maxPrice: '9.00' }] }));
    expect(bid.status, JSON.stringify(bid.body)).toBe(201);
    const id = randomUUID();
    await t.dataSource.query(
      `INSERT INTO leases (id, bid_id, tenant_id, round_id, gpu_model, gpus, limit_price, preemptible, state, runtime_seconds, allocated_at, protected_until, ended_at)
       VALUES ($1, $2, $3, $4, $5, $6, 9, $7, $8, 86400, $9, $10, $11)`,
      [
        id,
        bid.body.id,
        tenant.id,
        roundId,
        H100,
        gpus,
        over.preemptible,
        over.state,
        new Date(T - 30 * HOUR),
        over.protectedUntil ?? null,
        over.endedAt ?? null,
      ],
    );
    await t.dataSource.query(
      `INSERT INTO lease_nodes (lease_id, node_id, provider_id, region, gpus, unit_price, node_price)
       SELECT $1, n.id, n.provider_id, n.region, $3, 1, 1 FROM nodes n WHERE n.id = $2`,
      [id, ids.get(name), gpus],
    );
  }

  beforeAll(async () => {
    t = await createTestApp();
    provider = await createProvider(t, 'priced');
    tenant = await createTenant(t, 'asker');
    // n1, n2 share block b1; n3 sits alone in b2; s1 is the only soc2 node.
    const nodes = await putNodes(t, provider.apiKey, [
      node('n1', { block: 'b1', reservePrice: '0.50' }),
      node('n2', { block: 'b1', reservePrice: '0.50' }),
      node('n3', { block: 'b2', reservePrice: '0.50' }),
      node('s1', { region: 'us-east', block: 'b9', reservePrice: '1.50', compliance: ['soc2'] }),
    ]);
    for (const n of nodes) ids.set(n.externalId as string, n.id as string);

    // Leases placed long ago: n1 all held by a preemptible lease past its protected run (taking
    // its GPUs costs the penalty), 4 of n2 by a non-preemptible one (not for sale), and n3 by a
    // non-preemptible one that ended between the rounds of T-2h and T-1h.
    const old = await round(T - 30 * HOUR, null);
    await lease(old, 'n1', 8, { preemptible: true, state: 'running', protectedUntil: new Date(Date.now() - HOUR) });
    await lease(old, 'n2', 4, { preemptible: false, state: 'running' });
    await lease(old, 'n3', 8, { preemptible: false, state: 'completed', endedAt: new Date(T - 1.5 * HOUR) });

    // Node prices: one round outside the 24 h (cheaper than anything since), three inside; T is the latest.
    await round(T - 25 * HOUR, { n1: '0.60', n2: '0.60', n3: '0.60', s1: '1.50' });
    await round(T - 2 * HOUR, { n1: '1.00', n2: '1.00', n3: '1.40', s1: '1.50' });
    await round(T - 1 * HOUR, { n1: '1.10', n2: '1.20', n3: '1.30', s1: '1.50' });
    await round(T, { n1: '1.20', n2: '1.40', n3: '1.60', s1: '1.50' });
  });
  afterAll(async () => t?.close());

  it('prices every tier from the latest node prices: flexibility is cheaper, displacing costs the penalty', async () => {
    const response = await quote({
      gpus: 8,
      contiguity: 'block',
      runtimeSeconds: 7200,
      regions: ['eu-west'],
      offers: [{ gpuModel: H100, maxPrice: '1.58' }],
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({
      gpus: 8,
      runtimeSeconds: 7200,
      contiguity: 'block',
      preemptible: false,
      wouldWinNow: true,
    });
    expect(response.body.prices).toMatchObject({
      basis: 'node_prices',
      periodStart: new Date(T).toISOString(),
      preemptionPenalty: '0.50',
      historyRounds: 0,
    });
    const [offer] = response.body.offers;
    expect(offer).toMatchObject({ gpuModel: H100, maxPrice: '1.58', wouldWinNow: true });
    // n1: 8 to displace at 1.20 + 0.50; n2: 4 free at 1.40; n3: 8 free at 1.60.
    // node, nvlink: n3 (1.60) beats displacing n1 (1.70). block b1: 4 x 1.40 + 4 x 1.70 = 1.55 (pays 1.30).
    // none: 4 x 1.40 + 4 x 1.60 = 1.50.
    expect(table(offer.options)).toEqual({
      'node/n/now': ['1.600000', '1.600000', false, 'above_limit'],
      'node/p/now': ['1.600000', '1.600000', false, 'above_limit'],
      'nvlink/n/now': ['1.600000', '1.600000', false, 'above_limit'],
      'nvlink/p/now': ['1.600000', '1.600000', false, 'above_limit'],
      'block/n/now': ['1.550000', '1.300000', true, null],
      'block/p/now': ['1.550000', '1.300000', true, null],
      'none/n/now': ['1.500000', '1.500000', true, null],
      'none/p/now': ['1.500000', '1.500000', true, null],
    });
    expect(pick(offer.options, 'block', false)).toEqual({
      contiguity: 'block',
      preemptible: false,
      timing: 'now',
      requested: true,
      priceToWin: '1.550000',
      unitPrice: '1.300000',
      // 1.30 x 8 GPUs x 2 h.
      cost: '20.800000',
      // 4 of its GPUs are n1's preemptible lease's: that lease's own limit may defend them beyond the penalty.
      priceIsFloor: true,
      wouldWin: true,
      reason: null,
      basis: 'node_prices',
      placement: { regions: ['eu-west'], nodes: 2, displacesGpus: 4 },
      history: null,
      preemption: null,
    });
    // Preemptible wins at the same price; what it risks is being displaced later.
    expect(pick(offer.options, 'block', true)).toMatchObject({
      requested: false,
      priceToWin: '1.550000',
      preemption: {
        protectedSeconds: t.config.minHoldSeconds,
        noticeSeconds: t.config.preemptionNoticeSeconds,
        displacedByDemandAbove: '2.080000',
      },
    });
  });

  it('estimates a window from the last 24 h of node prices and occupancy: the 25th percentile, never above now', async () => {
    const response = await quote({
      gpus: 8,
      contiguity: 'none',
      preemptible: true,
      window: window(),
      runtimeSeconds: 3600,
      regions: ['eu-west'],
      offers: [{ gpuModel: H100, maxPrice: '1.58' }],
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.prices.historyRounds).toBe(3);
    const [offer] = response.body.offers;
    expect(offer.options).toHaveLength(16);
    // Per round (node / block / none): T-2h, n3 still held: 1.50 / 1.25 / 1.25 (4 x 1.00 + 4 x 1.50, pays 1.00);
    // T-1h: 1.30 / 1.30 / 1.25 (pays 1.25); T: 1.60 / 1.55 / 1.50. Nearest rank of 3 is the lowest;
    // on a tie, the round that pays less. The round of T-25h (0.60) is too old to count.
    const windowed = Object.fromEntries(Object.entries(table(offer.options)).filter(([k]) => k.endsWith('/window')));
    expect(windowed).toEqual({
      'node/n/window': ['1.300000', '1.300000', true, null],
      'node/p/window': ['1.300000', '1.300000', true, null],
      'nvlink/n/window': ['1.300000', '1.300000', true, null],
      'nvlink/p/window': ['1.300000', '1.300000', true, null],
      'block/n/window': ['1.250000', '1.000000', true, null],
      'block/p/window': ['1.250000', '1.000000', true, null],
      'none/n/window': ['1.250000', '1.000000', true, null],
      'none/p/window': ['1.250000', '1.000000', true, null],
    });
    expect(pick(offer.options, 'none', true, 'window')).toMatchObject({
      requested: true,
      basis: 'history_p25',
      cost: '8.000000',
      history: { rounds: 3, available: 3 },
      placement: { nodes: 2, displacesGpus: 4 },
    });
    expect(pick(offer.options, 'none', true)).toMatchObject({
      requested: false,
      priceToWin: '1.500000',
      basis: 'node_prices',
      history: null,
    });
    expect(offer.wouldWinNow).toBe(true);
  });

  it('says why an option cannot be had', async () => {
    const response = await quote({
      gpus: 8,
      contiguity: 'none',
      compliance: ['soc2'],
      window: window(),
      offers: [
        { gpuModel: H100, maxPrice: '1.40' },
        { gpuModel: 'A100-SXM-80GB', maxPrice: '5.00' },
      ],
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const [h100, a100] = response.body.offers;
    // s1 asks 1.50: below its reserve, every tier; and a window does not lower a reserve.
    expect(pick(h100.options, 'node', false)).toMatchObject({
      priceToWin: '1.500000',
      wouldWin: false,
      reason: 'below_reserve',
    });
    expect(pick(h100.options, 'none', true, 'window')).toMatchObject({
      priceToWin: '1.500000',
      wouldWin: false,
      reason: 'below_reserve',
      basis: 'node_prices',
    });
    expect(h100.wouldWinNow).toBe(false);
    expect(
      a100.options.every(
        (o: Option) =>
          o.reason === 'no_matching_nodes' && o.priceToWin === null && o.cost === null && o.placement === null,
      ),
    ).toBe(true);
    expect(response.body.wouldWinNow).toBe(false);

    // 16 GPUs: no node or NVLink domain has them (the bid itself, `none`, is valid); b1 has 4 free + 8 to displace.
    const big = await quote({
      gpus: 16,
      contiguity: 'none',
      regions: ['eu-west'],
      offers: [{ gpuModel: H100, maxPrice: '5.00' }],
    });
    const tiers = table(big.body.offers[0].options);
    expect(tiers['node/n/now']).toEqual([null, null, false, 'no_capacity_for_contiguity']);
    expect(tiers['nvlink/n/now']).toEqual([null, null, false, 'no_capacity_for_contiguity']);
    expect(tiers['block/n/now']).toEqual([null, null, false, 'no_capacity_for_contiguity']);
    // Anywhere: 4 x 1.40 (n2) + 8 x 1.60 (n3) + 4 x 1.70 (n1, displaced) = 25.2 -> 1.575.
    expect(tiers['none/n/now']).toEqual(['1.575000', '1.450000', true, null]);
  });

  it('holds a quote to the rules of a bid and stores nothing', async () => {
    const [before] = await t.dataSource.query(`SELECT count(*)::int AS n FROM bids`);
    const zero = await quote({ gpus: 0 });
    expect(zero.status).toBe(400);
    expect(zero.body.details[0].field).toBe('gpus');
    const unknown = await quote({ offers: [{ gpuModel: 'Z9000', maxPrice: '1.00' }] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toEqual([
      expect.objectContaining({ field: 'offers[0].gpuModel', rule: 'unknown_gpu_model' }),
    ]);
    const tooBig = await quote({ gpus: 16, contiguity: 'node' });
    expect(tooBig.body.details).toEqual([expect.objectContaining({ field: 'gpus', rule: 'contiguity_impossible' })]);
    const extra = await quote({ colour: 'blue' });
    expect(extra.body.details[0]).toMatchObject({ field: 'colour', rule: 'unknown_field' });
    expect((await quote({}, provider.apiKey)).status).toBe(403);
    expect((await quote({ regions: ['eu-west'] })).status).toBe(200);
    const [after] = await t.dataSource.query(`SELECT count(*)::int AS n FROM bids`);
    expect(after.n).toBe(before.n);
  });

  it('documents the options in the OpenAPI document', async () => {
    const schemas = (await t.http().get('/docs/openapi.json')).body.components.schemas;
    expect(schemas.QuoteOptionDto.properties.priceToWin).toMatchObject({ type: 'string', nullable: true });
    expect(schemas.QuoteOptionDto.properties.reason.enum).toEqual([
      'no_matching_nodes',
      'no_capacity_for_contiguity',
      'below_reserve',
      'above_limit',
    ]);
    expect(schemas.OfferQuoteDto.properties.options).toMatchObject({ type: 'array' });
  });
});

describe('POST /v1/quotes over a long history', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  beforeAll(async () => {
    t = await createTestApp();
    const provider = await createProvider(t, 'busy');
    tenant = await createTenant(t, 'patient');
    const [n] = await putNodes(t, provider.apiKey, [node('h-1', { reservePrice: '1.00' })]);
    // 300 rounds a minute apart, the latest the dearest: price 1.000 + 0.001 per round, up to 1.299.
    await t.dataSource.query(
      `WITH r AS (
         INSERT INTO rounds (period_start, state, committed_at, solver_status, welfare)
         SELECT $1::timestamptz - make_interval(mins => i), 'committed', now(), 'optimal', 0 FROM generate_series(0, 299) AS i
         RETURNING id, period_start
       )
       INSERT INTO node_prices (round_id, period_start, node_id, provider_id, gpu_model, region, reserve_price, price)
       SELECT r.id, r.period_start, n.id, n.provider_id, n.gpu_model, n.region, n.reserve_price,
              1.299 - extract(epoch FROM ($1::timestamptz - r.period_start)) / 60 * 0.001
         FROM r, nodes n WHERE n.id = $2`,
      [new Date(T), n.id],
    );
  });
  afterAll(async () => t?.close());

  it('looks at 96 rounds, evenly spread over the day, and takes their 25th percentile', async () => {
    const response = await t
      .http()
      .post('/v1/quotes')
      .set(auth(tenant.apiKey))
      .send(bidBody({ gpus: 1, contiguity: 'node', window: window(), offers: [{ gpuModel: H100, maxPrice: '2.00' }] }));
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.prices.historyRounds).toBe(96);
    const option = pick(response.body.offers[0].options, 'node', false, 'window');
    expect(option).toMatchObject({ basis: 'history_p25', history: { rounds: 96, available: 96 } });
    // Round k back from the latest (k = 0..299) is kept when floor(96 k / 300) steps: k = ceil(300 j / 96), j = 0..95.
    // The 25th percentile of 96 is the 24th cheapest, j = 72: k = 225, price 1.299 - 0.225.
    expect(option.priceToWin).toBe('1.074000');
    expect(pick(response.body.offers[0].options, 'node', false)).toMatchObject({
      priceToWin: '1.299000',
      basis: 'node_prices',
    });
  });
});

describe('POST /v1/quotes against real rounds', () => {
  let t: TestApp;
  const tenants: Array<{ id: string; apiKey: string }> = [];
  const submit = async (key: string, body: Record<string, unknown>) => {
    const response = await t.http().post('/v1/bids').set(auth(key)).send(bidBody(body));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body.id as string;
  };

  beforeAll(async () => {
    // No protected run: a preemptible lease may be displaced from the next round on.
    t = await createTestApp({ MIN_HOLD_SECONDS: '0', PREEMPTION_PENALTY: '0.50' });
    const provider = await createProvider(t, 'real');
    for (const name of ['holder', 'asker', 'displacer']) tenants.push(await createTenant(t, name));
    await putNodes(t, provider.apiKey, [node('r-1', { reservePrice: '1.00' })]);
    t.app.get(AdapterRegistry).use(provider.id, new SimulatedAdapter({ nodes: [{ externalId: 'r-1', gpus: 8 }] }));
  });
  afterAll(async () => t?.close());

  it("quotes from the round's node prices, and a price to win that displaces a lease is only a floor", async () => {
    await submit(tenants[0].apiKey, { gpus: 4, preemptible: true, offers: [{ gpuModel: H100, maxPrice: '2.00' }] });
    const first = await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2032, 0, 1)) });
    expect(first?.placements).toBe(1);
    // The holder runs, and its protection (start + 0 s, in whole seconds) is over.
    await until('the holder runs', async () => {
      await t.app.get(LeaseSyncService).syncAll();
      return (await t.dataSource.query(`SELECT 1 FROM leases WHERE state = 'running'`)).length === 1;
    });
    const [holder] = await t.dataSource.query(`SELECT protected_until FROM leases`);
    await past(holder.protected_until);

    const quote = (body: Record<string, unknown>) =>
      t.http().post('/v1/quotes').set(auth(tenants[1].apiKey)).send(bidBody(body));
    // r-1 kept 4 GPUs idle, so its rent is 0: the four free GPUs sell at its reserve.
    const small = await quote({ gpus: 4, offers: [{ gpuModel: H100, maxPrice: '1.10' }] });
    expect(small.body.prices).toMatchObject({ basis: 'node_prices', roundId: first!.roundId });
    expect(pick(small.body.offers[0].options, 'node', false)).toMatchObject({
      priceToWin: '1.000000',
      unitPrice: '1.000000',
      wouldWin: true,
      priceIsFloor: false,
    });
    // Eight need the holder's four too: 4 x 1.00 + 4 x (1.00 + 0.50) -> 1.25, a floor.
    const big = await quote({ gpus: 8, offers: [{ gpuModel: H100, maxPrice: '1.30' }] });
    expect(pick(big.body.offers[0].options, 'node', false)).toMatchObject({
      priceToWin: '1.250000',
      unitPrice: '1.000000',
      wouldWin: true,
      priceIsFloor: true,
      placement: { regions: ['eu-west'], nodes: 1, displacesGpus: 4 },
    });

    // The round agrees on the free GPUs; the holder (limit 2.00, + 0.50 penalty) keeps its own.
    const asker = await submit(tenants[1].apiKey, { gpus: 4, offers: [{ gpuModel: H100, maxPrice: '1.10' }] });
    const displacer = await submit(tenants[2].apiKey, { gpus: 8, offers: [{ gpuModel: H100, maxPrice: '1.30' }] });
    const second = await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2032, 0, 1, 0, 1)) });
    expect(second?.placements).toBe(1);
    const [won] = await t.dataSource.query(`SELECT bid_id FROM leases WHERE round_id = $1`, [second!.roundId]);
    expect(won.bid_id).toBe(asker);
    const [lost] = await t.dataSource.query(`SELECT status FROM bids WHERE id = $1`, [displacer]);
    expect(lost.status).toBe('open');

    // Now the asker's lease is not preemptible: no 8 GPUs of r-1 are for sale at any price.
    const after = await quote({ gpus: 8, offers: [{ gpuModel: H100, maxPrice: '9.00' }] });
    expect(after.body.prices.roundId).toBe(second!.roundId);
    expect(pick(after.body.offers[0].options, 'node', false)).toMatchObject({
      priceToWin: null,
      reason: 'no_capacity_for_contiguity',
    });
  });
});

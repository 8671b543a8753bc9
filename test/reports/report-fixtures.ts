import type { TestApp } from '../support/test-app.js';
import { createProvider, createTenant, node, putNodes } from '../support/fixtures.js';

/**
 * A small market written straight into the tables, with every figure of the reports worked out
 * by hand in reports.test.ts. Pools: A = H100-SXM-80GB/eu-west (nodes n1 of p1 and n3 of p2),
 * B = A100-SXM-80GB/us-east (n2 of p2). Rounds are an hour apart (the test app runs with
 * ROUND_PERIOD_SECONDS=3600); the fee is 10%. Every committed round has node prices; the pool
 * index is the lowest contestable node price, the band the nodes' lowest, median and highest.
 * Lease l4 (limit 4.20 on n1 priced 4.50) is capped: it pays 4.20 and the market pays 0.30 per
 * GPU-hour of uplift. Leases and bids are finished, so a round the scheduler may run meanwhile
 * settles none of them.
 */
export interface ReportFixture {
  tenants: { acme: string; beta: string };
  providers: { p1: string; p2: string };
  providerKeys: { p1: string; p2: string };
  rounds: { r1: string; r2: string; r3: string; abandoned: string; r5: string };
  bids: { b1: string; b2: string; b3: string; b4: string; lost: string; lost2: string };
  leases: { l1: string; l2: string; l3: string; l4: string };
  nodes: { n1: string; n2: string; n3: string };
}

const H100 = 'H100-SXM-80GB';
const A100 = 'A100-SXM-80GB';

export async function seedReportFixture(t: TestApp): Promise<ReportFixture> {
  const acme = await createTenant(t, 'acme');
  const beta = await createTenant(t, 'beta');
  const p1 = await createProvider(t, 'p1');
  const p2 = await createProvider(t, 'p2');
  const [n1] = await putNodes(t, p1.apiKey, [node('n1', { gpuModel: H100, region: 'eu-west' })]);
  const [n2, n3] = await putNodes(t, p2.apiKey, [
    node('n2', { gpuModel: A100, region: 'us-east', reservePrice: '0.90' }),
    node('n3', { gpuModel: H100, region: 'eu-west' }),
  ]);
  const q = (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const one = async (sql: string, params: unknown[]) => (await q(sql, params))[0].id as string;

  const round = (periodStart: string, state: string, welfare: string, bound: string) =>
    one(
      `INSERT INTO rounds (period_start, state, committed_at, solver, solver_status, welfare, upper_bound, open_bids, placements)
       VALUES ($1, $2, $1::timestamptz + interval '2 seconds', 'highs', 'optimal', $3, $4, 2, 1) RETURNING id`,
      [periodStart, state, welfare, bound],
    );
  const r1 = await round('2030-01-01T00:00:00Z', 'committed', '12.000000', '12.500000');
  const r2 = await round('2030-01-01T01:00:00Z', 'committed', '30.000000', '30.000000');
  const r3 = await round('2030-01-01T02:00:00Z', 'committed', '20.000000', '20.000000');
  const abandoned = await round('2030-01-01T03:00:00Z', 'abandoned', '0', '0');
  const r5 = await round('2030-01-02T00:00:00Z', 'committed', '40.000000', '40.000000');

  const bid = (tenantId: string, gpus: number, offers: Array<[string, string]>, regions: string[] = []) =>
    one(
      `WITH b AS (
         INSERT INTO bids (id, tenant_id, status, gpus, contiguity, preemptible, runtime_seconds, remaining_seconds, regions, workload)
         VALUES (gen_random_uuid(), $1, 'completed', $2, 'node', false, 3600, 0, $3, '{}') RETURNING id
       ), o AS (
         INSERT INTO bid_offers (bid_id, rank, gpu_model, max_price)
         SELECT b.id, v.rank, v.model, v.price FROM b, unnest($4::text[], $5::numeric[]) WITH ORDINALITY AS v(model, price, rank)
       ) SELECT id FROM b`,
      [tenantId, gpus, regions, offers.map((o) => o[0]), offers.map((o) => o[1])],
    );
  const b1 = await bid(acme.id, 8, [[H100, '3.50']]);
  const b2 = await bid(beta.id, 4, [[A100, '1.50']]);
  const b3 = await bid(beta.id, 8, [[H100, '5.00']]);
  const lost = await bid(
    beta.id,
    8,
    [
      [H100, '2.00'],
      [A100, '1.10'],
    ],
    ['eu-west'],
  );
  const b4 = await bid(acme.id, 8, [[H100, '4.20']]);
  const lost2 = await bid(beta.id, 4, [[H100, '4.30']]);

  const lease = async (
    bidId: string,
    tenantId: string,
    roundId: string,
    model: string,
    gpus: number,
    limit: string,
    nodeId: string,
    providerId: string,
    region: string,
    unit: string,
    nodePrice = unit,
    uplift = '0',
  ) => {
    const id = await one(
      `INSERT INTO leases (id, bid_id, tenant_id, round_id, gpu_model, gpus, limit_price, preemptible, state, runtime_seconds, allocated_at)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, false, 'completed', 3600, '2030-01-01T00:00:00Z') RETURNING id`,
      [bidId, tenantId, roundId, model, gpus, limit],
    );
    await q(
      `INSERT INTO lease_nodes (lease_id, node_id, provider_id, region, gpus, unit_price, node_price, uplift) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [id, nodeId, providerId, region, gpus, unit, nodePrice, uplift],
    );
    return id;
  };
  const [N1, N2, N3] = [n1.id as string, n2.id as string, n3.id as string];
  const l1 = await lease(b1, acme.id, r1, H100, 8, '3.50', N1, p1.id, 'eu-west', '2.50');
  const l2 = await lease(b2, beta.id, r2, A100, 4, '1.50', N2, p2.id, 'us-east', '1.20');
  const l3 = await lease(b3, beta.id, r5, H100, 8, '5.00', N3, p2.id, 'eu-west', '4.00');
  // Capped: its limit 4.20 is below n1's price 4.50, so it pays 4.20 and the market 0.30 per GPU-hour.
  const l4 = await lease(b4, acme.id, r5, H100, 8, '4.20', N1, p1.id, 'eu-west', '4.20', '4.50', '0.30');

  // Index, node-price band (min, median, max), the VWAP of what placements and kept leases paid, and the GPUs it
  // weighs.
  type Band = [string, string, string];
  const price = (
    roundId: string,
    periodStart: string,
    model: string,
    region: string,
    value: string,
    marginal: string | null,
    supply: number,
    sold: number,
    band: Band,
    vwap: string | null,
    paid: number | null,
  ) =>
    q(
      `INSERT INTO pool_prices (round_id, period_start, gpu_model, region, price, marginal_bid_id, supply_gpus, sold_gpus,
                                min_node_price, median_node_price, max_node_price, charge_vwap, paid_gpus)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [roundId, periodStart, model, region, value, marginal, supply, sold, ...band, vwap, paid],
    );
  await price(r1, '2030-01-01T00:00:00Z', H100, 'eu-west', '2.00', lost, 16, 8, ['2.00', '2.00', '2.50'], '2.50', 8);
  // A round from before node prices: the migration filled its band with its price and left its VWAP empty.
  await price(r1, '2030-01-01T00:00:00Z', A100, 'us-east', '1.00', null, 8, 0, ['1.00', '1.00', '1.00'], null, null);
  await price(r2, '2030-01-01T01:00:00Z', H100, 'eu-west', '3.00', l1, 16, 16, ['3.00', '3.00', '3.50'], '3.25', 16);
  await price(r2, '2030-01-01T01:00:00Z', A100, 'us-east', '1.20', null, 8, 4, ['1.20', '1.20', '1.20'], '1.20', 4);
  await price(r3, '2030-01-01T02:00:00Z', H100, 'eu-west', '2.50', b1, 16, 8, ['2.50', '2.50', '2.75'], '2.75', 8);
  await price(
    abandoned,
    '2030-01-01T03:00:00Z',
    H100,
    'eu-west',
    '99.00',
    null,
    16,
    16,
    ['99.00', '99.00', '99.00'],
    '99.00',
    16,
  );
  // l3 pays 4.00 x 8 and l4 4.20 x 8: VWAP 4.10.
  await price(r5, '2030-01-02T00:00:00Z', H100, 'eu-west', '4.00', b3, 16, 16, ['4.00', '4.00', '4.50'], '4.10', 16);

  const nodePrice = (
    roundId: string,
    periodStart: string,
    nodeId: string,
    providerId: string,
    model: string,
    region: string,
    reserve: string,
    value: string,
  ) =>
    q(
      `INSERT INTO node_prices (round_id, period_start, node_id, provider_id, gpu_model, region, reserve_price, price) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [roundId, periodStart, nodeId, providerId, model, region, reserve, value],
    );
  for (const [roundId, at, n1Price, n3Price, n2Price] of [
    [r1, '2030-01-01T00:00:00Z', '2.50', '2.00', '1.00'],
    [r2, '2030-01-01T01:00:00Z', '3.50', '3.00', '1.20'],
    [r3, '2030-01-01T02:00:00Z', '2.75', '2.50', null],
    [abandoned, '2030-01-01T03:00:00Z', '99.00', '99.00', '99.00'],
    [r5, '2030-01-02T00:00:00Z', '4.50', '4.00', '0.953125'],
  ] as const) {
    await nodePrice(roundId, at, N1, p1.id, H100, 'eu-west', '1.50', n1Price);
    await nodePrice(roundId, at, N3, p2.id, H100, 'eu-west', '1.50', n3Price);
    if (n2Price !== null) await nodePrice(roundId, at, N2, p2.id, A100, 'us-east', '0.90', n2Price);
  }

  const entry = (
    roundId: string | null,
    leaseId: string,
    bidId: string,
    tenantId: string,
    providerId: string,
    nodeId: string,
    model: string,
    region: string,
    start: string,
    seconds: number,
    gpus: number,
    unit: string,
    nodePriceValue: string,
    charge: string,
    uplift: string,
    fee: string,
    payout: string,
  ) =>
    q(
      `INSERT INTO ledger_entries (round_id, lease_id, bid_id, tenant_id, provider_id, node_id, gpu_model, region, period_start, period_end, seconds, gpus,
                                   unit_price, node_price, charge, uplift, fee, payout)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9::timestamptz + make_interval(secs => $10), $10, $11, $12, $13, $14, $15, $16, $17)`,
      [
        roundId,
        leaseId,
        bidId,
        tenantId,
        providerId,
        nodeId,
        model,
        region,
        start,
        seconds,
        gpus,
        unit,
        nodePriceValue,
        charge,
        uplift,
        fee,
        payout,
      ],
    );
  // E1..E6 of the hand computation.
  await entry(
    r2,
    l1,
    b1,
    acme.id,
    p1.id,
    N1,
    H100,
    'eu-west',
    '2030-01-01T00:00:00Z',
    3600,
    8,
    '2.00',
    '2.00',
    '16.000000',
    '0',
    '1.600000',
    '14.400000',
  );
  await entry(
    r3,
    l1,
    b1,
    acme.id,
    p1.id,
    N1,
    H100,
    'eu-west',
    '2030-01-01T01:00:00Z',
    3600,
    8,
    '3.00',
    '3.00',
    '24.000000',
    '0',
    '2.400000',
    '21.600000',
  );
  await entry(
    r3,
    l2,
    b2,
    beta.id,
    p2.id,
    N2,
    A100,
    'us-east',
    '2030-01-01T01:00:00Z',
    1800,
    4,
    '1.20',
    '1.20',
    '2.400000',
    '0',
    '0.240000',
    '2.160000',
  );
  await entry(
    r5,
    l3,
    b3,
    beta.id,
    p2.id,
    N3,
    H100,
    'eu-west',
    '2030-01-02T00:00:00Z',
    1000,
    8,
    '4.00',
    '4.00',
    '8.888889',
    '0',
    '0.888889',
    '8.000000',
  );
  await entry(
    null,
    l1,
    b1,
    acme.id,
    p1.id,
    N1,
    H100,
    'eu-west',
    '2030-01-01T02:00:00Z',
    1200,
    8,
    '2.50',
    '2.50',
    '6.666667',
    '0',
    '0.666667',
    '6.000000',
  );
  // E6, capped: gross 4.50 x 8 x 0.5 h = 18; the tenant pays 4.20 x 8 x 0.5 = 16.80, the market 1.20; fee 10% of 18.
  await entry(
    r5,
    l4,
    b4,
    acme.id,
    p1.id,
    N1,
    H100,
    'eu-west',
    '2030-01-02T00:00:00Z',
    1800,
    8,
    '4.20',
    '4.50',
    '16.800000',
    '1.200000',
    '1.800000',
    '16.200000',
  );

  const cleared = (tenantId: string, roundId: string, won: object[], lost: object[]) =>
    q(
      `INSERT INTO market_events (id, tenant_id, type, subject_id, data)
       VALUES (gen_random_uuid(), $1, 'round.cleared', $2::uuid, jsonb_build_object('roundId', $2::text, 'won', $3::jsonb, 'lost', $4::jsonb))`,
      [tenantId, roundId, JSON.stringify(won), JSON.stringify(lost)],
    );
  await cleared(beta.id, r1, [], [{ bidId: lost, reason: 'outbid' }]);
  await cleared(
    acme.id,
    r1,
    [{ bidId: b1, leaseId: l1, gpuModel: H100, gpus: 8, unitPrice: '2.500000', uplift: '0.000000' }],
    [],
  );
  // lost2 could have had 4 GPUs at 4.25 < its 4.30, but not without splitting what the round allocated.
  await cleared(
    beta.id,
    r5,
    [{ bidId: b3, leaseId: l3, gpuModel: H100, gpus: 8, unitPrice: '4.000000', uplift: '0.000000' }],
    [
      {
        bidId: lost2,
        reason: 'outbid',
        paradoxicallyRejected: { reason: 'indivisible', gpuModel: H100, cheapestPrice: '4.250000' },
      },
    ],
  );
  await cleared(
    acme.id,
    r5,
    [{ bidId: b4, leaseId: l4, gpuModel: H100, gpus: 8, unitPrice: '4.200000', uplift: '0.300000' }],
    [],
  );

  return {
    tenants: { acme: acme.id, beta: beta.id },
    providers: { p1: p1.id, p2: p2.id },
    providerKeys: { p1: p1.apiKey, p2: p2.apiKey },
    rounds: { r1, r2, r3, abandoned, r5 },
    bids: { b1, b2, b3, b4, lost, lost2 },
    leases: { l1, l2, l3, l4 },
    nodes: { n1: N1, n2: N2, n3: N3 },
  };
}

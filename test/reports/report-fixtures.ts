import type { TestApp } from '../support/test-app.js';
import { createProvider, createTenant, node, putNodes } from '../support/fixtures.js';

/**
 * A small market written straight into the tables, with every figure of the reports worked out
 * by hand in reports.test.ts. Pools: A = H100-SXM-80GB/eu-west, B = A100-SXM-80GB/us-east.
 * Rounds are an hour apart (the test app runs with ROUND_PERIOD_SECONDS=3600); the fee is 10%.
 * Leases and bids are finished, so a round the scheduler may run meanwhile settles none of them.
 */
export interface ReportFixture {
  tenants: { acme: string; beta: string };
  providers: { p1: string; p2: string };
  rounds: { r1: string; r2: string; r3: string; abandoned: string; r5: string };
  bids: { b1: string; b2: string; b3: string; lost: string };
  leases: { l1: string; l2: string; l3: string };
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
  const [n2, n3] = await putNodes(t, p2.apiKey, [node('n2', { gpuModel: A100, region: 'us-east' }), node('n3', { gpuModel: H100, region: 'eu-west' })]);
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
  const lost = await bid(beta.id, 8, [[H100, '2.00'], [A100, '1.10']], ['eu-west']);

  const lease = async (bidId: string, tenantId: string, roundId: string, model: string, gpus: number, limit: string, nodeId: string, providerId: string, region: string, unit: string) => {
    const id = await one(
      `INSERT INTO leases (id, bid_id, tenant_id, round_id, gpu_model, gpus, limit_price, preemptible, state, runtime_seconds, allocated_at)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, false, 'completed', 3600, '2030-01-01T00:00:00Z') RETURNING id`,
      [bidId, tenantId, roundId, model, gpus, limit],
    );
    await q(`INSERT INTO lease_nodes (lease_id, node_id, provider_id, region, gpus, unit_price) VALUES ($1, $2, $3, $4, $5, $6)`, [id, nodeId, providerId, region, gpus, unit]);
    return id;
  };
  const l1 = await lease(b1, acme.id, r1, H100, 8, '3.50', n1.id as string, p1.id, 'eu-west', '2.50');
  const l2 = await lease(b2, beta.id, r2, A100, 4, '1.50', n2.id as string, p2.id, 'us-east', '1.20');
  const l3 = await lease(b3, beta.id, r5, H100, 8, '5.00', n3.id as string, p2.id, 'eu-west', '4.00');

  const price = (roundId: string, periodStart: string, model: string, region: string, value: string, marginal: string | null, supply: number, sold: number) =>
    q(
      `INSERT INTO pool_prices (round_id, period_start, gpu_model, region, price, marginal_bid_id, supply_gpus, sold_gpus) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [roundId, periodStart, model, region, value, marginal, supply, sold],
    );
  await price(r1, '2030-01-01T00:00:00Z', H100, 'eu-west', '2.00', lost, 16, 8);
  await price(r1, '2030-01-01T00:00:00Z', A100, 'us-east', '1.00', null, 8, 0);
  await price(r2, '2030-01-01T01:00:00Z', H100, 'eu-west', '3.00', l1, 16, 16);
  await price(r2, '2030-01-01T01:00:00Z', A100, 'us-east', '1.20', null, 8, 4);
  await price(r3, '2030-01-01T02:00:00Z', H100, 'eu-west', '2.50', b1, 16, 8);
  await price(abandoned, '2030-01-01T03:00:00Z', H100, 'eu-west', '99.00', null, 16, 16);
  await price(r5, '2030-01-02T00:00:00Z', H100, 'eu-west', '4.00', b3, 8, 4);

  const entry = (roundId: string | null, leaseId: string, bidId: string, tenantId: string, providerId: string, nodeId: string, model: string, region: string, start: string, seconds: number, gpus: number, unit: string, charge: string, fee: string, payout: string) =>
    q(
      `INSERT INTO ledger_entries (round_id, lease_id, bid_id, tenant_id, provider_id, node_id, gpu_model, region, period_start, period_end, seconds, gpus, unit_price, charge, fee, payout)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9::timestamptz + make_interval(secs => $10), $10, $11, $12, $13, $14, $15)`,
      [roundId, leaseId, bidId, tenantId, providerId, nodeId, model, region, start, seconds, gpus, unit, charge, fee, payout],
    );
  const [N1, N2, N3] = [n1.id as string, n2.id as string, n3.id as string];
  // E1..E5 of the hand computation.
  await entry(r2, l1, b1, acme.id, p1.id, N1, H100, 'eu-west', '2030-01-01T00:00:00Z', 3600, 8, '2.00', '16.000000', '1.600000', '14.400000');
  await entry(r3, l1, b1, acme.id, p1.id, N1, H100, 'eu-west', '2030-01-01T01:00:00Z', 3600, 8, '3.00', '24.000000', '2.400000', '21.600000');
  await entry(r3, l2, b2, beta.id, p2.id, N2, A100, 'us-east', '2030-01-01T01:00:00Z', 1800, 4, '1.20', '2.400000', '0.240000', '2.160000');
  await entry(r5, l3, b3, beta.id, p2.id, N3, H100, 'eu-west', '2030-01-02T00:00:00Z', 1000, 8, '4.00', '8.888889', '0.888889', '8.000000');
  await entry(null, l1, b1, acme.id, p1.id, N1, H100, 'eu-west', '2030-01-01T02:00:00Z', 1200, 8, '2.50', '6.666667', '0.666667', '6.000000');

  await q(
    `INSERT INTO market_events (id, tenant_id, type, subject_id, data) VALUES
       (gen_random_uuid(), $1, 'round.cleared', $3::uuid, jsonb_build_object('roundId', $3::text, 'won', '[]'::jsonb, 'lost', jsonb_build_array(jsonb_build_object('bidId', $4::text, 'reason', 'outbid')))),
       (gen_random_uuid(), $2, 'round.cleared', $3::uuid, jsonb_build_object('roundId', $3::text, 'won', jsonb_build_array(jsonb_build_object('bidId', $5::text)), 'lost', '[]'::jsonb))`,
    [beta.id, acme.id, r1, lost, b1],
  );

  return {
    tenants: { acme: acme.id, beta: beta.id },
    providers: { p1: p1.id, p2: p2.id },
    rounds: { r1, r2, r3, abandoned, r5 },
    bids: { b1, b2, b3, lost },
    leases: { l1, l2, l3 },
    nodes: { n1: N1, n2: N2, n3: N3 },
  };
}

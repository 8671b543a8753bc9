import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Money } from '../../src/core/money/money.js';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * Two idle pools (8 GPUs each, 4 sold), so every clearing price is the pool's reserve and every
 * figure below can be worked out by hand: eu-west H100 at 1.50, us-east H100 at 2.00.
 */
describe('market read API on real PostgreSQL', () => {
  let t: TestApp;
  let rounds: RoundService;
  let providerA: { id: string; apiKey: string };
  let providerB: { id: string; apiKey: string };
  let alice: { id: string; apiKey: string };
  let bob: { id: string; apiKey: string };
  let financeKey: string;
  let aliceBid: string;
  let bobBid: string;
  let lowBid: string;
  let aliceLease: Record<string, unknown>;
  let bobLease: Record<string, unknown>;
  let firstRoundId: string;
  let period = 0;
  const round = () => rounds.runRound({ periodStart: new Date(Date.UTC(2030, 5, 1) + 60_000 * period++) });
  const get = (path: string, key: string) => t.http().get(path).set(auth(key));

  beforeAll(async () => {
    t = await createTestApp({ MIN_HOLD_SECONDS: '1', MARKET_FEE_PERCENT: '10' });
    rounds = t.app.get(RoundService);
    providerA = await createProvider(t, 'provider-a');
    providerB = await createProvider(t, 'provider-b');
    await putNodes(t, providerA.apiKey, [node('a-1', { region: 'eu-west', reservePrice: '1.50' })]);
    await putNodes(t, providerB.apiKey, [node('b-1', { region: 'us-east', reservePrice: '2.00' })]);
    const registry = t.app.get(AdapterRegistry);
    registry.use(providerA.id, new SimulatedAdapter({ nodes: [{ externalId: 'a-1', gpus: 8 }] }));
    registry.use(providerB.id, new SimulatedAdapter({ nodes: [{ externalId: 'b-1', gpus: 8 }] }));
    alice = await createTenant(t, 'alice');
    bob = await createTenant(t, 'bob');
    const finance = await t.http().post('/v1/api-keys').set(auth(t.adminKey)).send({ role: 'finance', name: 'books' });
    expect(finance.status, JSON.stringify(finance.body)).toBe(201);
    financeKey = finance.body.apiKey;

    const submit = async (key: string, body: Record<string, unknown>) => {
      const response = await t.http().post('/v1/bids').set(auth(key)).send(bidBody(body));
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      return response.body.id as string;
    };
    aliceBid = await submit(alice.apiKey, {
      gpus: 4,
      regions: ['eu-west'],
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.00' }],
    });
    bobBid = await submit(bob.apiKey, {
      gpus: 4,
      regions: ['us-east'],
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.50' }],
    });
    // Below every reserve: it cannot win anywhere.
    lowBid = await submit(alice.apiKey, {
      gpus: 1,
      contiguity: 'none',
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '1.00' }],
    });
    const first = await round();
    expect(first?.placements).toBe(2);
    firstRoundId = first!.roundId;
    const leases = await get('/v1/leases', t.adminKey);
    aliceLease = leases.body.leases.find((l: { bidId: string }) => l.bidId === aliceBid);
    bobLease = leases.body.leases.find((l: { bidId: string }) => l.bidId === bobBid);
  });
  afterAll(async () => t?.close());

  it('shows a committed round with its reserve-set prices per pool, counts, welfare and the gap to its bound', async () => {
    const response = await get(`/v1/rounds/${firstRoundId}`, alice.apiKey);
    expect(response.status).toBe(200);
    const r = response.body;
    expect(r.state).toBe('committed');
    expect(r.placements).toBe(2);
    expect(r.openBids).toBe(3);
    expect(r.prices).toEqual([
      {
        gpuModel: 'H100-SXM-80GB',
        region: 'eu-west',
        price: '1.50',
        marginalBidId: null,
        marginalBidPrice: null,
        supplyGpus: 8,
        soldGpus: 4,
        nodePrices: { min: '1.50', median: '1.50', max: '1.50' },
        chargeVwap: '1.50',
      },
      {
        gpuModel: 'H100-SXM-80GB',
        region: 'us-east',
        price: '2.00',
        marginalBidId: null,
        marginalBidPrice: null,
        supplyGpus: 8,
        soldGpus: 4,
        nodePrices: { min: '2.00', median: '2.00', max: '2.00' },
        chargeVwap: '2.00',
      },
    ]);
    // Welfare per hour: alice (3.00 - 1.50) x 4 + bob (2.50 - 2.00) x 4 = 8.
    expect(new Money(r.welfare).equals(8)).toBe(true);
    const [row] = await t.dataSource.query(`SELECT welfare::text, upper_bound::text FROM rounds WHERE id = $1`, [
      firstRoundId,
    ]);
    if (row.upper_bound === null) expect(r.gap).toBeNull();
    else expect(r.gap).toBe(new Money(row.upper_bound).minus(row.welfare).dividedBy(row.upper_bound).toFixed(6));
    expect(r.timings).toHaveProperty('clear');
    expect(r.timings).toHaveProperty('snapshot');
    expect(r.timings).toHaveProperty('relay');
    expect(r.solverStatus).toMatch(/optimal|feasible|heuristic/);
  });

  it('lists rounds newest first, a page at a time', async () => {
    await round();
    const first = await get('/v1/rounds?limit=1', bob.apiKey);
    expect(first.status).toBe(200);
    expect(first.body.rounds).toHaveLength(1);
    const second = await get(`/v1/rounds?limit=1&cursor=${first.body.nextCursor}`, providerA.apiKey);
    expect(second.body.rounds[0].seq).toBeLessThan(first.body.rounds[0].seq);
    expect((await get('/v1/rounds?cursor=bad', bob.apiKey)).status).toBe(400);
    expect((await get(`/v1/rounds/00000000-0000-4000-8000-000000000000`, bob.apiKey)).status).toBe(404);
    expect((await get('/v1/rounds?limit=0', bob.apiKey)).body.details[0].field).toBe('limit');
  });

  it('shows the latest price per pool with supply and the GPUs free now', async () => {
    const response = await get('/v1/market/prices', providerB.apiKey);
    expect(response.status).toBe(200);
    const eu = response.body.pools.find((p: { region: string }) => p.region === 'eu-west');
    expect(eu).toMatchObject({
      gpuModel: 'H100-SXM-80GB',
      price: '1.50',
      supplyGpus: 8,
      freeGpus: 4,
      reserveFloor: '1.50',
    });
    const us = response.body.pools.find((p: { region: string }) => p.region === 'us-east');
    expect(us).toMatchObject({ price: '2.00', supplyGpus: 8, freeGpus: 4 });
  });

  it('scopes leases: a tenant sees its own, a provider those on its nodes, finance all; another tenant gets 404', async () => {
    const own = await get('/v1/leases', alice.apiKey);
    expect(own.body.leases.map((l: { id: string }) => l.id)).toEqual([aliceLease.id]);
    const onA = await get('/v1/leases', providerA.apiKey);
    expect(onA.body.leases.map((l: { id: string }) => l.id)).toEqual([aliceLease.id]);
    const all = await get('/v1/leases', financeKey);
    expect(all.body.leases).toHaveLength(2);
    const page = await get('/v1/leases?limit=1', financeKey);
    const next = await get(`/v1/leases?limit=1&cursor=${page.body.nextCursor}`, financeKey);
    expect([page.body.leases[0].id, next.body.leases[0].id].sort()).toEqual([aliceLease.id, bobLease.id].sort());
    expect(next.body.nextCursor).toBeNull();

    const detail = await get(`/v1/leases/${aliceLease.id}`, alice.apiKey);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      bidId: aliceBid,
      gpus: 4,
      limitPrice: '3.00',
      state: 'allocated',
      endReason: null,
    });
    expect(detail.body.nodes).toEqual([
      expect.objectContaining({
        providerId: providerA.id,
        externalId: 'a-1',
        region: 'eu-west',
        gpus: 4,
        unitPrice: '1.50',
        nodePrice: '1.50',
        uplift: '0.00',
      }),
    ]);
    expect((await get(`/v1/leases/${aliceLease.id}`, bob.apiKey)).status).toBe(404);
    expect((await get(`/v1/leases/${aliceLease.id}`, providerB.apiKey)).status).toBe(404);
    expect((await get('/v1/leases/not-a-uuid', alice.apiKey)).status).toBe(404);
    expect((await get('/v1/leases?state=sleeping', alice.apiKey)).body.details[0]).toMatchObject({ field: 'state' });
  });

  it("takes a provider's status reports only for leases on its nodes and applies them to the lease", async () => {
    const wrongProvider = await t
      .http()
      .post(`/v1/leases/${aliceLease.id}/status`)
      .set(auth(providerB.apiKey))
      .send({ state: 'running' });
    expect(wrongProvider.status).toBe(404);
    const tenant = await t
      .http()
      .post(`/v1/leases/${aliceLease.id}/status`)
      .set(auth(alice.apiKey))
      .send({ state: 'running' });
    expect(tenant.status).toBe(403);
    const bad = await t
      .http()
      .post(`/v1/leases/${aliceLease.id}/status`)
      .set(auth(providerA.apiKey))
      .send({ state: 'exploded' });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe('state');

    const running = await t
      .http()
      .post(`/v1/leases/${aliceLease.id}/status`)
      .set(auth(providerA.apiKey))
      .send({ state: 'running' });
    expect(running.status).toBe(200);
    expect(running.body.state).toBe('running');
    expect(running.body.startedAt).not.toBeNull();
    const bobRunning = await t
      .http()
      .post(`/v1/leases/${bobLease.id}/status`)
      .set(auth(providerB.apiKey))
      .send({ state: 'running' });
    expect(bobRunning.body.state).toBe('running');

    await new Promise((r) => setTimeout(r, 2_100));
    const done = await t
      .http()
      .post(`/v1/leases/${aliceLease.id}/status`)
      .set(auth(providerA.apiKey))
      .send({ state: 'completed', exitCode: 0 });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ state: 'completed', endReason: 'workload_ended', exitCode: 0 });
    const completed = await get('/v1/leases?state=completed', alice.apiKey);
    expect(completed.body.leases.map((l: { id: string }) => l.id)).toEqual([aliceLease.id]);
    // Its GPUs are free again.
    const prices = await get('/v1/market/prices', alice.apiKey);
    expect(prices.body.pools.find((p: { region: string }) => p.region === 'eu-west').freeGpus).toBe(8);
  });

  it('shows a bid with the leases it won and why a losing bid lost', async () => {
    const won = await get(`/v1/bids/${aliceBid}`, alice.apiKey);
    expect(won.body.leases).toEqual([
      expect.objectContaining({ id: aliceLease.id, state: 'completed', gpus: 4, endReason: 'workload_ended' }),
    ]);
    const lost = await get(`/v1/bids/${lowBid}`, alice.apiKey);
    expect(lost.body.leases).toEqual([]);
    expect(lost.body.lastLossReason).toBe('below_reserve');
  });

  it('reports ledger entries and exact totals to each party: charges to the tenant, payouts to the provider, all to finance', async () => {
    await round(); // settles bob's running lease up to now
    const mine = await get('/v1/ledger', alice.apiKey);
    expect(mine.status).toBe(200);
    expect(mine.body.entries.length).toBeGreaterThan(0);
    expect(mine.body.entries.every((e: { tenantId: string }) => e.tenantId === alice.id)).toBe(true);
    let charges = new Money(0);
    let fees = new Money(0);
    for (const e of mine.body.entries) {
      // 1.50 per GPU-hour x 4 GPUs x seconds / 3600, with a 10% fee.
      const charge = new Money('1.50').times(4).times(e.seconds).dividedBy(3600).toDecimalPlaces(6);
      expect(e.unitPrice).toBe('1.50');
      expect(e.nodePrice).toBe('1.50');
      expect(e.charge).toBe(charge.toFixed(6));
      expect(e.uplift).toBe('0.000000');
      expect(new Money(e.fee).plus(e.payout).equals(e.charge)).toBe(true);
      charges = charges.plus(e.charge);
      fees = fees.plus(e.fee);
    }
    expect(mine.body.entries.reduce((s: number, e: { seconds: number }) => s + e.seconds, 0)).toBeGreaterThanOrEqual(2);
    expect(mine.body.totals).toMatchObject({
      charges: charges.toFixed(6),
      fees: fees.toFixed(6),
      payouts: charges.minus(fees).toFixed(6),
    });

    const payouts = await get('/v1/ledger', providerB.apiKey);
    expect(payouts.body.entries.length).toBeGreaterThan(0);
    expect(
      payouts.body.entries.every(
        (e: { providerId: string; tenantId: string }) => e.providerId === providerB.id && e.tenantId === bob.id,
      ),
    ).toBe(true);

    const books = await get('/v1/ledger', financeKey);
    const [db] = await t.dataSource.query(
      `SELECT sum(charge)::text AS c, sum(fee)::text AS f, sum(payout)::text AS p, sum(uplift)::text AS u, count(*)::int AS n FROM ledger_entries`,
    );
    expect(books.body.totals).toEqual({
      charges: new Money(db.c).toFixed(6),
      uplift: new Money(db.u).toFixed(6),
      fees: new Money(db.f).toFixed(6),
      payouts: new Money(db.p).toFixed(6),
      count: db.n,
    });
    expect(
      new Money(books.body.totals.charges).equals(
        new Money(mine.body.totals.charges).plus(payouts.body.totals.charges),
      ),
    ).toBe(true);

    const empty = await get('/v1/ledger?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z', financeKey);
    expect(empty.body).toMatchObject({
      entries: [],
      totals: { charges: '0.000000', uplift: '0.000000', fees: '0.000000', payouts: '0.000000', count: 0 },
    });
  });

  it('rejects a ledger range whose end is not after its start, naming the field', async () => {
    const backwards = await get('/v1/ledger?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z', alice.apiKey);
    expect(backwards.status).toBe(400);
    expect(backwards.body.details).toEqual([expect.objectContaining({ field: 'to', rule: 'after_from' })]);
    const malformed = await get('/v1/ledger?from=yesterday', alice.apiKey);
    expect(malformed.status).toBe(400);
    expect(malformed.body.details[0].field).toBe('from');
  });
});

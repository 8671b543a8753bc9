import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';
import { ScriptedFleet } from './support/scripted-fleet.js';

/**
 * A lease the tenant cancels ends `cancelled`, and stays ended; and every API that takes a range
 * reads it as [from, to), so a ledger entry that ends on a boundary is on the same side of it in
 * the ledger API and in the reports.
 */
describe('cancelled leases and range boundaries', () => {
  let t: TestApp;
  let fleet: ScriptedFleet;
  let tenant: { id: string; apiKey: string };
  let financeKey: string;
  let bidId: string;
  let leaseId: string;
  let period = 0;
  const round = () =>
    t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2038, 0, 1) + 60_000 * period++) });
  const sync = () => t.app.get(LeaseSyncService).syncAll();
  const q = (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const get = (path: string, key: string) => t.http().get(path).set(auth(key));
  const tick = () => new Promise((r) => setTimeout(r, 1_100));

  beforeAll(async () => {
    t = await createTestApp({ MIN_HOLD_SECONDS: '1', MARKET_FEE_PERCENT: '10' });
    const provider = await createProvider(t, 'provider');
    await putNodes(t, provider.apiKey, [node('n-1', { region: 'eu-west', reservePrice: '1.50' })]);
    fleet = new ScriptedFleet([{ externalId: 'n-1', gpus: 8 }]);
    t.app.get(AdapterRegistry).use(provider.id, fleet);
    tenant = await createTenant(t, 'tenant');
    financeKey = (await t.http().post('/v1/api-keys').set(auth(t.adminKey)).send({ role: 'finance', name: 'books' }))
      .body.apiKey;

    // A lease charged by two rounds, then cancelled: three ledger entries with known ends.
    const created = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ gpus: 8, regions: ['eu-west'], runtimeSeconds: 3600 }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    bidId = created.body.id;
    await round();
    [{ id: leaseId }] = await q(`SELECT id FROM leases WHERE bid_id = $1`, [bidId]);
    await until(
      'the place order done',
      async () =>
        (await q(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'place'`, [leaseId]))[0]?.state === 'done',
    );
    await sync();
    await tick();
    await round();
    await tick();
    await round();
    await tick();
    expect((await t.http().delete(`/v1/bids/${bidId}`).set(auth(tenant.apiKey))).status).toBe(200);
  }, 60_000);
  afterAll(async () => t?.close());

  it('ends a cancelled lease in state cancelled, shown and filtered as such, charged up to the cancel', async () => {
    const [lease] = await q(`SELECT state, end_reason, ended_at, settled_until FROM leases WHERE id = $1`, [leaseId]);
    expect(lease).toMatchObject({ state: 'cancelled', end_reason: 'cancelled' });
    expect(new Date(lease.ended_at).getTime() - new Date(lease.settled_until).getTime()).toBeLessThan(1_000);

    const shown = await get(`/v1/leases/${leaseId}`, tenant.apiKey);
    expect(shown.body).toMatchObject({
      id: leaseId,
      state: 'cancelled',
      endReason: 'cancelled',
      endedAt: new Date(lease.ended_at).toISOString(),
    });
    const cancelled = await get('/v1/leases?state=cancelled', tenant.apiKey);
    expect(cancelled.body.leases.map((l: { id: string }) => l.id)).toEqual([leaseId]);
    expect((await get('/v1/leases?state=completed', tenant.apiKey)).body.leases).toEqual([]);
    const bad = await get('/v1/leases?state=canceled', tenant.apiKey);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('state');
    const openapi = await t.http().get('/docs/openapi.json');
    expect(openapi.status).toBe(200);
    const leaseSchema = openapi.body.components.schemas.LeaseDto;
    expect(leaseSchema.properties.state.enum).toEqual([
      'allocated',
      'running',
      'preempting',
      'completed',
      'cancelled',
      'preempted',
      'failed',
    ]);
  });

  it('keeps a cancelled lease ended: its stopped workload, later rounds and syncs change nothing and charge nothing', async () => {
    const before = await q(
      `SELECT count(*)::int AS n, max(period_end) AS until FROM ledger_entries WHERE lease_id = $1`,
      [leaseId],
    );
    await until(
      'the terminate order reaches the workload',
      async () => (await fleet.workload(leaseId))?.termAt !== undefined,
    );
    fleet.clockOffsetMs = 60_000;
    await sync();
    await tick();
    await round();
    const [lease] = await q(`SELECT state, end_reason FROM leases WHERE id = $1`, [leaseId]);
    expect(lease).toEqual({ state: 'cancelled', end_reason: 'cancelled' });
    expect(
      await q(`SELECT count(*)::int AS n, max(period_end) AS until FROM ledger_entries WHERE lease_id = $1`, [leaseId]),
    ).toEqual(before);
    expect(
      await q(
        `SELECT type FROM market_events WHERE subject_id = $1 AND type IN ('lease.failed', 'lease.preempted', 'lease.completed')`,
        [leaseId],
      ),
    ).toEqual([]);
    // Its GPUs are free: a new bid is placed on the node.
    const next = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ gpus: 8, regions: ['eu-west'], runtimeSeconds: 60 }));
    expect((await round())?.placements).toBe(1);
    expect((await q(`SELECT state FROM leases WHERE bid_id = $1`, [next.body.id]))[0].state).toBe('allocated');
  });

  it('puts an entry that ends exactly on a boundary after it, in the ledger API and in the reports alike', async () => {
    const entries: Array<{ id: string; period_end: Date }> = await q(
      `SELECT id::text AS id, period_end FROM ledger_entries WHERE lease_id = $1 ORDER BY period_end`,
      [leaseId],
    );
    expect(entries.length).toBe(3);
    // The boundary: the end of the middle entry (a round's settlement).
    const boundary = new Date(entries[1].period_end);
    const hourBefore = new Date(boundary.getTime() - 3_600_000).toISOString();
    const hourAfter = new Date(boundary.getTime() + 3_600_000).toISOString();
    const at = boundary.toISOString();

    const before = await get(`/v1/ledger?from=${hourBefore}&to=${at}`, financeKey);
    const after = await get(`/v1/ledger?from=${at}&to=${hourAfter}`, financeKey);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ from: hourBefore, to: at });
    const ids = (body: { entries: Array<{ id: string }> }) => body.entries.map((e) => e.id).sort();
    expect(ids(before.body)).toEqual([entries[0].id]);
    expect(ids(after.body)).toEqual([entries[1].id, entries[2].id].sort());
    expect(after.body.entries.find((e: { id: string }) => e.id === entries[1].id).periodEnd).toBe(at);

    // The reports' [from, to) puts the same entries on the same sides, to the micro-unit.
    for (const [from, to, ledger] of [
      [hourBefore, at, before.body],
      [at, hourAfter, after.body],
    ] as const) {
      const report = await get(`/v1/reports/revenue?from=${from}&to=${to}&groupBy=tenant`, financeKey);
      expect(report.status, JSON.stringify(report.body)).toBe(200);
      expect(report.body.totals).toMatchObject({
        entries: ledger.totals.count,
        charges: ledger.totals.charges,
        payouts: ledger.totals.payouts,
        fees: ledger.totals.fees,
      });
    }
    // Together the two halves are the whole range.
    const whole = await get(`/v1/ledger?from=${hourBefore}&to=${hourAfter}`, financeKey);
    expect(whole.body.totals.count).toBe(3);
  });
});

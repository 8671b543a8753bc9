import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { OrderDispatchService } from '../../src/modules/dispatch/order-dispatch.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { ScriptedFleet } from './support/scripted-fleet.js';
import { past, until } from '../support/until.js';
import { LeaseStateService } from '../../src/modules/leases/lease-state.service.js';
import { TransactionRunner } from '../../src/platform/database/transaction-runner.js';

describe('a lease that wins its place back during its notice, and bids whose window closes', () => {
  let t: TestApp;
  let period = 0;
  const round = (now?: Date) =>
    t.app.get(RoundService).runRound({ now, periodStart: new Date(Date.UTC(2036, 0, 1) + 60_000 * period++) });
  const sync = () => t.app.get(LeaseSyncService).syncAll();
  const q = (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const leaseOf = async (bidId: string) =>
    (await q(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1`, [bidId]))[0];
  const bidRow = async (bidId: string) =>
    (await q(`SELECT status, remaining_seconds, last_loss_reason FROM bids WHERE id = $1`, [bidId]))[0];

  async function fleetIn(region: string): Promise<ScriptedFleet> {
    const provider = await createProvider(t, `provider-${region}`);
    await putNodes(t, provider.apiKey, [node(`${region}-1`, { region })]);
    const fleet = new ScriptedFleet([{ externalId: `${region}-1`, gpus: 8 }]);
    t.app.get(AdapterRegistry).use(provider.id, fleet);
    return fleet;
  }
  async function bid(key: string, region: string, overrides: Record<string, unknown>): Promise<string> {
    const response = await t
      .http()
      .post('/v1/bids')
      .set(auth(key))
      .send(bidBody({ regions: [region], ...overrides }));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body.id;
  }
  async function running(bidId: string): Promise<void> {
    await until(
      'the place order done',
      async () =>
        (await q(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'place'`, [(await leaseOf(bidId)).id]))[0]
          ?.state === 'done',
    );
    await sync();
    expect((await leaseOf(bidId)).state).toBe('running');
  }

  beforeAll(async () => {
    t = await createTestApp({ MIN_HOLD_SECONDS: '1', PREEMPTION_NOTICE_SECONDS: '20' });
  });
  afterAll(async () => t?.close());

  it('wins its place back: it runs on, its hard stop is withdrawn, the displacing lease never starts, and billing continues', async () => {
    const fleet = await fleetIn('winback');
    const low = await createTenant(t, 'low');
    const high = await createTenant(t, 'high');
    const victim = await bid(low.apiKey, 'winback', {
      preemptible: true,
      runtimeSeconds: 3600,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }],
    });
    // Its workload checkpoints on SIGTERM and keeps running until the platform's grace ends.
    fleet.ignoringTerm.add(victim);
    await round();
    await running(victim);
    const lease = await leaseOf(victim);
    await past(lease.protected_until);

    const displacing = await bid(high.apiKey, 'winback', {
      runtimeSeconds: 600,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '6.00' }],
    });
    expect((await round())?.preemptions).toBe(1);
    const noticed = await leaseOf(victim);
    expect(noticed.state).toBe('preempting');
    await until("the notice's SIGTERM", async () => (await fleet.workload(lease.id))?.termAt !== undefined);
    const successor = await leaseOf(displacing);
    expect(successor.state).toBe('allocated');

    // The displacing bid is cancelled before the notice ends: the victim's place is free again.
    expect((await t.http().delete(`/v1/bids/${displacing}`).set(auth(high.apiKey))).status).toBe(200);
    const winBack = await round();
    const wonBackAt = Date.now();
    expect(winBack?.preemptions).toBe(0);
    const back = await leaseOf(victim);
    expect(back).toMatchObject({ id: lease.id, state: 'running', notice_ends_at: null });
    expect((await bidRow(victim)).status).toBe('running');
    const stops = await q(`SELECT type, state FROM orders WHERE lease_id = $1 AND type <> 'place' ORDER BY type`, [
      lease.id,
    ]);
    expect(stops).toEqual([
      { type: 'preempt', state: 'done' },
      { type: 'terminate', state: 'withdrawn' },
    ]);
    const [event] = await q(
      `SELECT data FROM market_events WHERE type = 'lease.running' AND subject_id = $1 AND (data->>'wonBack')::boolean`,
      [lease.id],
    );
    expect(event.data).toMatchObject({ leaseId: lease.id, wonBack: true });
    // The successor never reaches the fleet: its place order, due at the notice's end, finds it ended.
    expect((await leaseOf(displacing)).state).toBe('cancelled');
    const [place] = await q(`SELECT id FROM orders WHERE lease_id = $1 AND type = 'place'`, [successor.id]);
    await t.app.get(OrderDispatchService).dispatch(place.id);
    expect((await q(`SELECT state FROM orders WHERE id = $1`, [place.id]))[0].state).toBe('withdrawn');
    expect(fleet.callsOf(successor.id, 'place')).toBe(0);

    // It keeps running (and paying) while its workload does.
    await sync();
    expect((await leaseOf(victim)).state).toBe('running');
    expect((await fleet.workload(lease.id))?.signals).toEqual(['SIGTERM']);
    await new Promise((r) => setTimeout(r, 1_000));
    await round();
    const [billed] = await q(`SELECT max(period_end) AS until FROM ledger_entries WHERE lease_id = $1`, [lease.id]);
    expect(new Date(billed.until).getTime()).toBeGreaterThan(wonBackAt);

    // A stop reported within the notice's grace (plus the time a report takes) is the notice's
    // doing; an hour later it would be the workload's own.
    const asReportedAt = (at: Date) =>
      t.app.get(TransactionRunner).run((m) => t.app.get(LeaseStateService).reportable(m, lease.id, at));
    expect(await asReportedAt(new Date())).toEqual({ state: 'running', noticedRecently: true });
    expect(await asReportedAt(new Date(Date.now() + 3_600_000))).toEqual({ state: 'running', noticedRecently: false });

    // The notice's SIGTERM had already gone out, and the platform kills at the end of its grace
    // all the same: the market's notice stopped it, so the lease ends preempted (not failed),
    // without billing a dead workload, and the bid reopens with the run time it still needs.
    fleet.clockOffsetMs = 25_000;
    await sync();
    const ended = await leaseOf(victim);
    expect(ended).toMatchObject({ id: lease.id, state: 'preempted', end_reason: 'stopped_on_notice' });
    // It ends, and stops being billed, when the stop is seen, after the win-back.
    expect(new Date(ended.ended_at).getTime()).toBeGreaterThan(wonBackAt);
    const reopened = await bidRow(victim);
    expect(reopened.status).toBe('open');
    expect(reopened.remaining_seconds).toBeLessThan(3600);
    const [preempted] = await q(`SELECT data FROM market_events WHERE type = 'lease.preempted' AND subject_id = $1`, [
      lease.id,
    ]);
    expect(preempted.data).toMatchObject({
      leaseId: lease.id,
      bidStatus: 'open',
      endedAt: new Date(ended.ended_at).toISOString(),
    });
    expect(await q(`SELECT id FROM leases WHERE bid_id = $1 AND state = 'failed'`, [victim])).toEqual([]);
  });

  it('expires an open bid whose window can no longer fit its run time, with window_closed', async () => {
    const tenant = await createTenant(t, 'deadline');
    // No node has this model: the bid loses every round until its window closes.
    const deadline = new Date(Date.now() + 75_000);
    const bidId = await bid(tenant.apiKey, 'nowhere', {
      runtimeSeconds: 60,
      window: { deadline: deadline.toISOString() },
      offers: [{ gpuModel: 'A100-SXM-40GB', maxPrice: '3.00' }],
    });
    const first = await round();
    expect(first?.expired).toBe(0);
    expect(await bidRow(bidId)).toMatchObject({ status: 'open', last_loss_reason: 'no_matching_nodes' });

    // 20 s later the remaining 60 s no longer fit before the deadline.
    const later = await round(new Date(deadline.getTime() - 55_000));
    expect(later?.expired).toBe(1);
    expect(await bidRow(bidId)).toMatchObject({ status: 'expired', last_loss_reason: 'window_closed' });
    const [expired] = await q(`SELECT data FROM market_events WHERE type = 'bid.expired' AND subject_id = $1`, [bidId]);
    expect(expired.data).toEqual({ bidId, reason: 'window_closed' });
    const view = await t.http().get(`/v1/bids/${bidId}`).set(auth(tenant.apiKey));
    expect(view.body).toMatchObject({ status: 'expired', lastLossReason: 'window_closed' });
    expect((await round(new Date(deadline.getTime() - 50_000)))?.expired).toBe(0);
  });

  it('expires a preempted bid at its notice end when its window can no longer fit what it still needs', async () => {
    const fleet = await fleetIn('late');
    const tenant = await createTenant(t, 'late');
    const submitted = Date.now();
    const victim = await bid(tenant.apiKey, 'late', {
      preemptible: true,
      runtimeSeconds: 600,
      window: { deadline: new Date(submitted + 630_000).toISOString() },
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }],
    });
    await round();
    await running(victim);
    await new Promise((r) => setTimeout(r, 1_100));
    await bid(tenant.apiKey, 'late', {
      runtimeSeconds: 600,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '6.00' }],
    });
    expect((await round())?.preemptions).toBe(1);
    const lease = await leaseOf(victim);
    await until("the notice's SIGTERM", async () => (await fleet.workload(lease.id))?.termAt !== undefined);

    // The round after the notice ends runs a minute later: what is left no longer fits.
    await round(new Date(new Date(lease.notice_ends_at).getTime() + 60_000));
    expect(await leaseOf(victim)).toMatchObject({ id: lease.id, state: 'preempted' });
    const ran =
      Math.floor(new Date(lease.notice_ends_at).getTime() / 1000) -
      Math.floor(new Date(lease.started_at).getTime() / 1000);
    expect(await bidRow(victim)).toEqual({
      status: 'expired',
      last_loss_reason: 'window_closed',
      remaining_seconds: 600 - ran,
    });
    const [preempted] = await q(`SELECT data FROM market_events WHERE type = 'lease.preempted' AND subject_id = $1`, [
      lease.id,
    ]);
    expect(preempted.data).toMatchObject({ bidStatus: 'expired' });
    expect(await q(`SELECT data FROM market_events WHERE type = 'bid.expired' AND subject_id = $1`, [victim])).toEqual([
      { data: { bidId: victim, reason: 'window_closed' } },
    ]);
  });
});

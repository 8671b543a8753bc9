import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { ScriptedFleet } from './support/scripted-fleet.js';
import { past, until } from '../support/until.js';

/**
 * Orders that fail for good and workloads that end badly, through the real path: BullMQ on Redis
 * with the retry policy (three tries, 20 ms backoff here), the dead-letter handler, lease sync.
 * Each case has a provider, node and region of its own, so the cases do not share GPUs.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('orders that fail for good, and workloads that end badly', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  let period = 0;
  const round = () =>
    t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2035, 0, 1) + 60_000 * period++) });
  const sync = () => t.app.get(LeaseSyncService).syncAll();
  const q = async (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const leaseOf = async (bidId: string) =>
    (await q(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1`, [bidId]))[0];
  const leasesOf = async (bidId: string) => q(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at`, [bidId]);
  const bidRow = async (bidId: string) =>
    (await q(`SELECT status, remaining_seconds, last_loss_reason FROM bids WHERE id = $1`, [bidId]))[0];
  const freeGpus = async (region: string) =>
    (await t.http().get('/v1/market/prices').set(auth(tenant.apiKey))).body.pools.find(
      (p: { region: string }) => p.region === region,
    ).freeGpus as number;
  const events = async (type: string, subjectId: string) =>
    q(`SELECT data FROM market_events WHERE type = $1 AND subject_id = $2 ORDER BY created_at`, [type, subjectId]);

  /** A provider with one 8-GPU node in a region of its own, served by a fleet the test scripts. */
  async function fleetIn(region: string): Promise<ScriptedFleet> {
    const provider = await createProvider(t, `provider-${region}`);
    await putNodes(t, provider.apiKey, [node(`${region}-1`, { region })]);
    const fleet = new ScriptedFleet([{ externalId: `${region}-1`, gpus: 8 }]);
    t.app.get(AdapterRegistry).use(provider.id, fleet);
    return fleet;
  }
  const bid = async (region: string, overrides: Record<string, unknown> = {}) => {
    const response = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ regions: [region], ...overrides }));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body.id as string;
  };
  const placedAndRunning = async (bidId: string) => {
    await until(
      'the place order done',
      async () =>
        (await q(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'place'`, [(await leaseOf(bidId)).id]))[0]
          ?.state === 'done',
    );
    await sync();
    expect((await leaseOf(bidId)).state).toBe('running');
  };

  beforeAll(async () => {
    t = await createTestApp({
      REDIS_URL,
      ORDER_RETRY_ATTEMPTS: '3',
      ORDER_RETRY_BACKOFF_MS: '20',
      MAX_PLATFORM_FAILURES_PER_BID: '2',
      STOP_RETRY_SECONDS: '1',
      MIN_HOLD_SECONDS: '1',
      PREEMPTION_NOTICE_SECONDS: '2',
    });
    tenant = await createTenant(t);
  });
  afterAll(async () => t?.close());

  it('dead-letters a placement after its last retry: the lease fails, its GPUs are free for the next round, the bid reopens and is placed again', async () => {
    const fleet = await fleetIn('dl-place');
    const bidId = await bid('dl-place');
    fleet.placeFailures.set(bidId, 'retryable');
    expect((await round())?.placements).toBe(1);
    const first = await leaseOf(bidId);
    await until('the lease to fail', async () => (await leaseOf(bidId)).state === 'failed');
    expect(fleet.callsOf(first.id, 'place')).toBe(3);
    const [order] = await q(`SELECT state, attempts, last_error FROM orders WHERE lease_id = $1 AND type = 'place'`, [
      first.id,
    ]);
    expect(order).toMatchObject({
      state: 'failed',
      attempts: 3,
      last_error: expect.stringMatching(/scripted retryable failure/),
    });
    expect((await leaseOf(bidId)).end_reason).toMatch(/^order_failed: /);
    expect(await bidRow(bidId)).toEqual({ status: 'open', remaining_seconds: 3600, last_loss_reason: null });
    expect(await freeGpus('dl-place')).toBe(8);
    const [failed] = await events('lease.failed', first.id);
    expect(failed.data).toMatchObject({ bidReopened: true, bidStatus: 'open' });

    fleet.placeFailures.delete(bidId);
    expect((await round())?.placements).toBe(1);
    const second = await leaseOf(bidId);
    expect(second.id).not.toBe(first.id);
    await placedAndRunning(bidId);
    expect(await freeGpus('dl-place')).toBe(0);
  });

  it('fails a bid whose placement keeps failing after MAX_PLATFORM_FAILURES_PER_BID leases, with the reason, and stops placing it', async () => {
    const fleet = await fleetIn('dl-cap');
    const bidId = await bid('dl-cap');
    fleet.placeFailures.set(bidId, 'permanent');
    await round();
    await until('the first lease to fail', async () => (await leaseOf(bidId))?.state === 'failed');
    expect((await bidRow(bidId)).status).toBe('open');
    await round();
    await until(
      'the second lease to fail',
      async () => (await leasesOf(bidId)).filter((l: { state: string }) => l.state === 'failed').length === 2,
    );
    expect(await bidRow(bidId)).toMatchObject({ status: 'failed', last_loss_reason: 'too_many_failures' });
    const [last] = (await events('lease.failed', (await leaseOf(bidId)).id)).slice(-1);
    expect(last.data).toMatchObject({ bidReopened: false, bidStatus: 'failed', bidReason: 'too_many_failures' });
    await round();
    expect(await leasesOf(bidId)).toHaveLength(2);
    expect(await freeGpus('dl-cap')).toBe(8);
    const bidView = await t.http().get(`/v1/bids/${bidId}`).set(auth(tenant.apiKey));
    expect(bidView.body).toMatchObject({ status: 'failed', lastLossReason: 'too_many_failures' });
  });

  it("a workload that exits non-zero is the tenant's failure: the lease fails and so does the bid", async () => {
    const fleet = await fleetIn('exit');
    const bidId = await bid('exit', { runtimeSeconds: 600 });
    fleet.exits.set(bidId, { code: 3, afterSeconds: 1 });
    await round();
    await placedAndRunning(bidId);
    await new Promise((r) => setTimeout(r, 1_100));
    await sync();
    expect(await leaseOf(bidId)).toMatchObject({
      state: 'failed',
      exit_code: 3,
      end_reason: expect.stringMatching(/^workload_failed/),
    });
    expect(await bidRow(bidId)).toMatchObject({ status: 'failed', last_loss_reason: 'workload_failed' });
  });

  it("a workload the platform lost is not the tenant's failure: the lease fails, a non-preemptible bid reopens and runs again", async () => {
    const fleet = await fleetIn('vanish');
    const bidId = await bid('vanish', { preemptible: false, runtimeSeconds: 600 });
    await round();
    await placedAndRunning(bidId);
    const lost = await leaseOf(bidId);
    await new Promise((r) => setTimeout(r, 1_000));
    fleet.store.forget(lost.id);
    await sync();
    expect(await leaseOf(bidId)).toMatchObject({
      state: 'failed',
      exit_code: null,
      end_reason: expect.stringMatching(/^platform_failed: .*no workload/),
    });
    const reopened = await bidRow(bidId);
    expect(reopened).toMatchObject({ status: 'open', last_loss_reason: null });
    expect(reopened.remaining_seconds).toBeLessThanOrEqual(600 - 1);
    expect(reopened.remaining_seconds).toBeGreaterThan(590);
    await round();
    await placedAndRunning(bidId);
    expect((await leaseOf(bidId)).runtime_seconds).toBe(reopened.remaining_seconds);
  });

  it('a workload that vanishes during its notice, seen by a restarted adapter, is stopped: the lease is preempted and the bid reopens', async () => {
    const fleet = await fleetIn('notice');
    const victim = await bid('notice', {
      preemptible: true,
      runtimeSeconds: 600,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }],
    });
    await round();
    await placedAndRunning(victim);
    const lease = await leaseOf(victim);
    await past(lease.protected_until);
    await bid('notice', { runtimeSeconds: 60, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '6.00' }] });
    expect((await round())?.preemptions).toBe(1);
    await until(
      "the notice's SIGTERM",
      async () => fleet.callsOf(lease.id, 'preempt') === 1 && (await fleet.workload(lease.id))?.termAt !== undefined,
    );
    // The process restarts (its adapter remembers nothing), and the platform has collected the
    // stopped workload (a deleted Pod, a purged job): only the market's records say why.
    fleet.restart();
    fleet.store.forget(lease.id);
    await sync();
    // Gone after its notice's SIGTERM: the market stopped it, so the lease is preempted (not
    // failed) there and then, billed to that stop rather than to the notice's end.
    const stopped = await leaseOf(victim);
    expect(stopped).toMatchObject({ id: lease.id, state: 'preempted', end_reason: 'stopped_on_notice' });
    expect(new Date(stopped.ended_at).getTime()).toBeLessThan(new Date(stopped.notice_ends_at).getTime());
    await past(stopped.notice_ends_at);
    await round();
    expect(await leaseOf(victim)).toMatchObject({ id: lease.id, state: 'preempted' });
    expect((await bidRow(victim)).status).toMatch(/open|allocated/);
  });

  it('a preempt that fails for good leaves the notice to its hard stop: the lease is preempted at the notice end and nothing stays held', async () => {
    const fleet = await fleetIn('dl-preempt');
    const victim = await bid('dl-preempt', {
      preemptible: true,
      runtimeSeconds: 600,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }],
    });
    await round();
    await placedAndRunning(victim);
    const lease = await leaseOf(victim);
    await new Promise((r) => setTimeout(r, 1_100));
    fleet.failPreempts = true;
    await bid('dl-preempt', { runtimeSeconds: 60, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '6.00' }] });
    expect((await round())?.preemptions).toBe(1);
    await until(
      'the preempt order to be dead-lettered',
      async () =>
        (await q(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'preempt'`, [lease.id]))[0].state ===
        'failed',
    );
    expect(fleet.callsOf(lease.id, 'preempt')).toBe(3);
    const [notified] = await events('lease.stop_failed', lease.id);
    expect(notified.data).toMatchObject({ order: 'preempt', gpusHeld: false });
    expect((await leaseOf(victim)).state).toBe('preempting');
    // The terminate at the notice's end stops the workload all the same.
    await until(
      'the hard stop at the notice end',
      async () => (await fleet.workload(lease.id))?.termAt !== undefined,
      10_000,
    );
    await round();
    expect(await leaseOf(victim)).toMatchObject({ state: 'preempted', stop_failed_at: null });
  });

  it('a terminate that fails for good ends billing but holds the GPUs until the provider confirms the workload stopped, re-sending the stop', async () => {
    const fleet = await fleetIn('dl-stop');
    const bidId = await bid('dl-stop', { runtimeSeconds: 3600 });
    await round();
    await placedAndRunning(bidId);
    const lease = await leaseOf(bidId);
    await new Promise((r) => setTimeout(r, 1_000));
    fleet.failTerminates = true;
    expect((await t.http().delete(`/v1/bids/${bidId}`).set(auth(tenant.apiKey))).status).toBe(200);
    await until(
      'the terminate to be dead-lettered',
      async () =>
        (await q(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'terminate'`, [lease.id]))[0].state ===
        'failed',
    );
    const stuck = await leaseOf(bidId);
    expect(stuck).toMatchObject({
      state: 'cancelled',
      end_reason: 'cancelled',
      stop_error: expect.stringMatching(/controller busy/),
    });
    expect(stuck.stop_failed_at).not.toBeNull();
    expect(stuck.stop_confirmed_at).toBeNull();
    // Billing ended with the lease; the workload itself still runs on the provider.
    const [billed] = await q(`SELECT max(period_end) AS until FROM ledger_entries WHERE lease_id = $1`, [lease.id]);
    expect(new Date(billed.until).getTime()).toBeLessThanOrEqual(new Date(stuck.ended_at).getTime());
    expect((await fleet.workload(lease.id))?.termAt).toBeUndefined();
    const notified = await q(
      `SELECT tenant_id, data FROM market_events WHERE type = 'lease.stop_failed' AND subject_id = $1`,
      [lease.id],
    );
    // (One per failed stop: lease sync may already have re-sent it and failed again.)
    expect(notified[0]).toEqual({
      tenant_id: tenant.id,
      data: expect.objectContaining({ order: 'terminate', gpusHeld: true }),
    });
    const shown = await t.http().get(`/v1/leases/${lease.id}`).set(auth(tenant.apiKey));
    expect(shown.body.stopFailure).toMatchObject({
      error: expect.stringMatching(/controller busy/),
      confirmedAt: null,
    });
    const attention = await t.http().get('/v1/leases?needsAttention=true').set(auth(t.adminKey));
    expect(attention.body.leases.map((l: { id: string }) => l.id)).toEqual([lease.id]);

    // Its GPUs are not sold again meanwhile.
    expect(await freeGpus('dl-stop')).toBe(0);
    const waiting = await bid('dl-stop', {
      runtimeSeconds: 60,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '9.00' }],
    });
    expect((await round())?.placements).toBe(0);
    expect(await leasesOf(waiting)).toEqual([]);

    // The provider answers again: lease sync re-sends the terminate, sees the workload gone, frees the GPUs.
    fleet.failTerminates = false;
    await new Promise((r) => setTimeout(r, 1_100)); // STOP_RETRY_SECONDS
    await sync();
    await until(
      'the re-sent terminate to stop the workload',
      async () => (await fleet.workload(lease.id))?.termAt !== undefined,
    );
    await sync();
    expect((await leaseOf(bidId)).stop_confirmed_at).not.toBeNull();
    const confirmed = await q(
      `SELECT tenant_id, data FROM market_events WHERE type = 'lease.stop_confirmed' AND subject_id = $1`,
      [lease.id],
    );
    expect(confirmed).toEqual([
      { tenant_id: tenant.id, data: expect.objectContaining({ leaseId: lease.id, status: 'stopped' }) },
    ]);
    await sync();
    expect(await events('lease.stop_confirmed', lease.id)).toHaveLength(1);
    expect(await freeGpus('dl-stop')).toBe(8);
    expect((await t.http().get('/v1/leases?needsAttention=true').set(auth(t.adminKey))).body.leases).toEqual([]);
    expect((await round())?.placements).toBe(1);
    expect((await leaseOf(waiting)).state).toBe('allocated');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { past, until } from '../support/until.js';
import { ScriptedFleet } from './support/scripted-fleet.js';

const NOTICE_SECONDS = 8;

/**
 * The billing policy of docs/finance.md ("Preemption notices"): a preempted lease is billed until
 * its workload stopped or its notice ended, whichever came first, from its provider's
 * confirmation of the stop. Real PostgreSQL, the simulated provider driven by the market's own
 * orders (the notice's SIGTERM, the hard stop at its end).
 */
describe('billing of a preemption notice', () => {
  let t: TestApp;
  let financeKey: string;
  let period = 0;
  const round = () =>
    t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2037, 0, 1) + 60_000 * period++) });
  const sync = () => t.app.get(LeaseSyncService).syncAll();
  const q = (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const leaseOf = async (bidId: string) =>
    (await q(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at LIMIT 1`, [bidId]))[0];
  const billing = async (leaseId: string) =>
    (
      await q(
        `SELECT min(period_start) AS "from", max(period_end) AS until, sum(seconds)::int AS seconds, count(*)::int AS entries
           FROM ledger_entries WHERE lease_id = $1`,
        [leaseId],
      )
    )[0] as { from: Date; until: Date; seconds: number; entries: number };

  beforeAll(async () => {
    t = await createTestApp({
      MIN_HOLD_SECONDS: '1',
      PREEMPTION_NOTICE_SECONDS: String(NOTICE_SECONDS),
      MARKET_FEE_PERCENT: '10',
    });
    const finance = await t.http().post('/v1/api-keys').set(auth(t.adminKey)).send({ role: 'finance', name: 'books' });
    financeKey = finance.body.apiKey;
  });
  afterAll(async () => t?.close());

  /** A preemptible lease running on its own 8-GPU node, then a higher bid that displaces it. */
  async function preempted(region: string, ignoresNotice: boolean) {
    const provider = await createProvider(t, `provider-${region}`);
    await putNodes(t, provider.apiKey, [node(`${region}-1`, { region, reservePrice: '1.00' })]);
    const fleet = new ScriptedFleet([{ externalId: `${region}-1`, gpus: 8 }]);
    t.app.get(AdapterRegistry).use(provider.id, fleet);
    const low = await createTenant(t, `low-${region}`);
    const high = await createTenant(t, `high-${region}`);
    const submit = async (key: string, body: Record<string, unknown>) => {
      const response = await t
        .http()
        .post('/v1/bids')
        .set(auth(key))
        .send(bidBody({ gpus: 8, regions: [region], ...body }));
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      return response.body.id as string;
    };
    const victim = await submit(low.apiKey, {
      preemptible: true,
      runtimeSeconds: 3600,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }],
    });
    if (ignoresNotice) fleet.ignoringTerm.add(victim);
    await round();
    const lease = await leaseOf(victim);
    await until(
      'the place order done',
      async () =>
        (await q(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'place'`, [lease.id]))[0]?.state === 'done',
    );
    await sync();
    await past((await leaseOf(victim)).protected_until);
    await submit(high.apiKey, { runtimeSeconds: 600, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '6.00' }] });
    expect((await round())?.preemptions).toBe(1);
    const noticed = await leaseOf(victim);
    expect(noticed.state).toBe('preempting');
    await until("the notice's SIGTERM", async () => (await fleet.workload(lease.id))?.termAt !== undefined);
    return { fleet, victim, lease: noticed, tenant: low };
  }

  async function reconciles(): Promise<void> {
    const [sums] = await q(
      `SELECT (sum(charge) + sum(uplift))::text AS gross, (sum(payout) + sum(fee))::text AS paid, count(*)::int AS entries FROM ledger_entries`,
    );
    expect(sums.entries).toBeGreaterThan(0);
    expect(sums.gross).toBe(sums.paid);
    // Each entry on its own too, to the micro-unit.
    expect(await q(`SELECT id FROM ledger_entries WHERE charge + uplift <> payout + fee`)).toEqual([]);
  }

  it('bills a lease whose workload stopped on its SIGTERM only to the confirmed stop, not to the end of its notice', async () => {
    const { victim, lease, tenant } = await preempted('stops', false);
    const noticeEnds = new Date(lease.notice_ends_at).getTime();
    // The workload exits on its SIGTERM; the next status poll confirms it stopped.
    const confirmedAt = Date.now();
    await sync();
    const ended = await leaseOf(victim);
    expect(ended).toMatchObject({ id: lease.id, state: 'preempted', end_reason: 'stopped_on_notice' });
    const endedAt = new Date(ended.ended_at).getTime();
    expect(endedAt).toBeGreaterThanOrEqual(confirmedAt - 1_000);
    expect(endedAt).toBeLessThan(noticeEnds - 1_000);

    // Charged without a gap from its start up to the stop (whole seconds), and not a second past it.
    const billed = await billing(lease.id);
    expect(new Date(billed.from).getTime()).toBe(new Date(lease.started_at).getTime());
    expect(billed.seconds * 1000).toBe(new Date(billed.until).getTime() - new Date(billed.from).getTime());
    expect(new Date(billed.until).getTime()).toBeLessThanOrEqual(endedAt);
    expect(endedAt - new Date(billed.until).getTime()).toBeLessThan(1_000);
    expect(new Date(billed.until).getTime()).toBeLessThan(noticeEnds - 1_000);

    // The bid is back in the market with the run time it still needs, and the tenant is told when the lease ended and
    // why.
    const [bid] = await q(`SELECT status, remaining_seconds FROM bids WHERE id = $1`, [victim]);
    expect(bid.status).toBe('open');
    expect(bid.remaining_seconds).toBe(
      3600 - (Math.floor(endedAt / 1000) - Math.floor(new Date(lease.started_at).getTime() / 1000)),
    );
    const [event] = await q(`SELECT data FROM market_events WHERE type = 'lease.preempted' AND subject_id = $1`, [
      lease.id,
    ]);
    expect(event.data).toMatchObject({
      leaseId: lease.id,
      reason: 'stopped_on_notice',
      endedAt: new Date(endedAt).toISOString(),
      workloadStoppedAt: new Date(endedAt).toISOString(),
      bidStatus: 'open',
    });
    const shown = await t.http().get(`/v1/leases/${lease.id}`).set(auth(tenant.apiKey));
    expect(shown.body).toMatchObject({
      state: 'preempted',
      endReason: 'stopped_on_notice',
      endedAt: new Date(endedAt).toISOString(),
    });

    // Nothing more is charged for it, at the end of the notice or after.
    await past(lease.notice_ends_at);
    await round();
    await sync();
    expect(await billing(lease.id)).toEqual(billed);
    await reconciles();
  }, 60_000);

  it('bills a lease whose workload ignores the notice to the notice end, even when its stop is confirmed later', async () => {
    const { fleet, victim, lease } = await preempted('ignores', true);
    const noticeEnds = new Date(lease.notice_ends_at).getTime();
    // It checkpoints on SIGTERM and keeps running: polls during the notice change nothing.
    await sync();
    expect((await leaseOf(victim)).state).toBe('preempting');
    // The platform kills it at the end of its grace; that stop is confirmed a minute later.
    await past(lease.notice_ends_at);
    fleet.clockOffsetMs = 60_000;
    await sync();
    const ended = await leaseOf(victim);
    expect(ended).toMatchObject({ id: lease.id, state: 'preempted', end_reason: 'preempted' });
    expect(new Date(ended.ended_at).getTime()).toBe(noticeEnds);
    // Whole seconds from its start: the notice's last fraction of a second is not charged.
    const billed = await billing(lease.id);
    expect(new Date(billed.from).getTime()).toBe(new Date(lease.started_at).getTime());
    expect(billed.seconds).toBe(Math.floor((noticeEnds - new Date(lease.started_at).getTime()) / 1000));
    expect(billed.seconds * 1000).toBe(new Date(billed.until).getTime() - new Date(billed.from).getTime());
    const [event] = await q(`SELECT data FROM market_events WHERE type = 'lease.preempted' AND subject_id = $1`, [
      lease.id,
    ]);
    expect(event.data).toMatchObject({ reason: 'preempted', endedAt: new Date(noticeEnds).toISOString() });

    // The ledger API and the reconciliation agree to the micro-unit.
    const ledger = await t.http().get('/v1/ledger?limit=5000').set(auth(financeKey));
    expect(ledger.status).toBe(200);
    const [sums] = await q(
      `SELECT sum(charge)::numeric(20,6)::text AS charges, count(*)::int AS n FROM ledger_entries`,
    );
    expect(ledger.body.totals).toMatchObject({ charges: sums.charges, count: sums.n });
    await reconciles();
  }, 60_000);
});

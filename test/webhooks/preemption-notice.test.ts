import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { ClearingRunner } from '../../src/modules/market/clearing-runner.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { deliveriesOf, registerWebhook } from './support/webhook-fixtures.js';
import { until, WEBHOOK_TEST_ENV, WebhookReceiver } from './support/webhook-receiver.js';
import { past } from '../support/until.js';

const NOTICE_SECONDS = 3;
/** The displacing round's clearing takes this long, as a big round's does (10 s budget by default). */
const SLOW_CLEAR_MS = 1_500;
const ALL_EVENTS = [
  'bid.allocated',
  'bid.expired',
  'lease.running',
  'lease.preemption_notice',
  'lease.preempted',
  'lease.completed',
  'lease.failed',
  'round.cleared',
] as const;

describe('preemption notice by webhook, on the market loop with BullMQ and a simulated fleet', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let rounds: RoundService;
  let sync: LeaseSyncService;
  let fleet: SimulatedAdapter;
  let period = 0;
  const round = () => rounds.runRound({ periodStart: new Date(Date.UTC(2030, 0, 1) + 60_000 * period++) });
  /** A round whose clearing takes SLOW_CLEAR_MS longer, as a big round's does. */
  const slowRound = async () => {
    const runner = t.app.get(ClearingRunner);
    const clear = runner.clear.bind(runner);
    runner.clear = async (...args) => {
      await new Promise((r) => setTimeout(r, SLOW_CLEAR_MS));
      return clear(...args);
    };
    return round().finally(() => {
      runner.clear = clear;
    });
  };
  const leaseOf = async (bidId: string) =>
    (await t.dataSource.query(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1`, [bidId]))[0];

  beforeAll(async () => {
    t = await createTestApp({
      ...WEBHOOK_TEST_ENV,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      MIN_HOLD_SECONDS: '1',
      PREEMPTION_NOTICE_SECONDS: String(NOTICE_SECONDS),
    });
    receiver = await new WebhookReceiver().start();
    rounds = t.app.get(RoundService);
    sync = t.app.get(LeaseSyncService);
    const provider = await createProvider(t, 'sim-provider');
    await putNodes(t, provider.apiKey, [node('sim-a', { reservePrice: '1.50' })]);
    fleet = new SimulatedAdapter({ nodes: [{ externalId: 'sim-a', gpus: 8 }], timeScale: 100 });
    t.app.get(AdapterRegistry).use(provider.id, fleet);
  });
  afterAll(async () => {
    await receiver?.stop();
    await t?.close();
  });

  it('reaches the tenant within a second of the displacing round, before its workload is stopped, and each tenant hears only its own events', async () => {
    const low = await createTenant(t, 'low');
    const high = await createTenant(t, 'high');
    await registerWebhook(t, low.apiKey, receiver.url('/low'), [...ALL_EVENTS]);
    const highHook = await registerWebhook(t, high.apiKey, receiver.url('/high'), [...ALL_EVENTS]);
    const lowHook = (await t.http().get('/v1/webhooks').set(auth(low.apiKey))).body.webhooks[0];
    const types = (path: string) => receiver.on(path).map((r) => r.body.type);

    // An hour at the fleet's 100x is 36 s: the workload does not end by itself during the test.
    const lowBid = (
      await t
        .http()
        .post('/v1/bids')
        .set(auth(low.apiKey))
        .send(
          bidBody({
            preemptible: true,
            runtimeSeconds: 3_600,
            offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }],
          }),
        )
    ).body;
    await round();
    const lowLease = await leaseOf(lowBid.id);
    await until(
      'the low bid placed on the fleet',
      async () =>
        (await t.dataSource.query(`SELECT state FROM orders WHERE lease_id = $1`, [lowLease.id]))[0].state === 'done',
    );
    await sync.syncAll();
    await until('the low tenant told of its allocation and its running lease', () =>
      ['bid.allocated', 'round.cleared', 'lease.running'].every((type) => types('/low').includes(type)),
    );

    await past((await leaseOf(lowBid.id)).protected_until);
    const highBid = (
      await t
        .http()
        .post('/v1/bids')
        .set(auth(high.apiKey))
        .send(bidBody({ runtimeSeconds: 300, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '5.00' }] }))
    ).body;
    // The simulated fleet runs 100x fast, so the low workload is gone a few milliseconds into
    // its notice, and a status seen then would end the lease at once (docs/finance.md, a stop
    // seen during a notice). This test is about a workload still running when its notice ends,
    // as one whose platform has not reported its stop: status polls are held until that round.
    const syncAll = sync.syncAll.bind(sync);
    sync.syncAll = async () => 0;
    // The displacing round clears slowly: the notice period must still count from its commit.
    const roundStarted = Date.now();
    const displacing = await slowRound();
    const clearedAt = roundStarted + SLOW_CLEAR_MS;
    expect(displacing?.preemptions).toBe(1);

    await until('the preemption notice', () => types('/low').includes('lease.preemption_notice'), 5_000);
    const notice = receiver.on('/low').find((r) => r.body.type === 'lease.preemption_notice')!;
    const noticed = await leaseOf(lowBid.id);
    const stopAt = new Date(noticed.notice_ends_at).getTime();
    expect(notice.body.data).toEqual({
      leaseId: lowLease.id,
      bidId: lowBid.id,
      stopAt: new Date(stopAt).toISOString(),
      noticeSeconds: NOTICE_SECONDS,
    });
    // From before the commit (the clearing's end) to the receiver: under a second.
    expect(notice.receivedAt - clearedAt).toBeLessThan(1_000);
    // The notice period runs from the commit, rounded up to whole seconds: the slow clearing
    // costs the tenant none of it, only the commit and the delivery (well under a second).
    expect(stopAt - (Math.ceil(clearedAt / 1000) + NOTICE_SECONDS) * 1_000).toBeOneOf([0, 1_000]);
    expect(stopAt - notice.receivedAt).toBeGreaterThan((NOTICE_SECONDS - 1) * 1_000);
    // Nothing has stopped the workload yet: the lease is under notice and its terminate order waits for stopAt.
    expect(noticed.state).toBe('preempting');
    const [terminate] = await t.dataSource.query(
      `SELECT state, not_before FROM orders WHERE lease_id = $1 AND type = 'terminate'`,
      [lowLease.id],
    );
    expect(terminate.state).toBe('pending');
    expect(new Date(terminate.not_before).getTime()).toBe(stopAt);
    await until('the notice logged as delivered', async () =>
      (await deliveriesOf(t, low.apiKey, lowHook.id)).some(
        (d) => d.eventType === 'lease.preemption_notice' && d.status === 'succeeded',
      ),
    );
    const logged = (await deliveriesOf(t, low.apiKey, lowHook.id)).find(
      (d) => d.eventType === 'lease.preemption_notice',
    )!;
    expect(Date.parse(logged.deliveredAt as string) - Date.parse(logged.createdAt as string)).toBeLessThan(1_000);

    // The notice ends while the next round clears (it starts half a second before): the round
    // ends the lease in its commit instead of leaving it in its notice for one more period.
    await until('the notice almost over', () => Date.now() > stopAt - 500, (NOTICE_SECONDS + 2) * 1_000);
    expect((await leaseOf(lowBid.id)).state).toBe('preempting');
    await slowRound();
    sync.syncAll = syncAll;
    const stopped = await leaseOf(lowBid.id);
    expect(stopped.state).toBe('preempted');
    expect(notice.receivedAt).toBeLessThan(new Date(stopped.ended_at).getTime());
    await until('the preempted event', () => types('/low').includes('lease.preempted'));
    expect(receiver.on('/low').find((r) => r.body.type === 'lease.preempted')!.body.data).toMatchObject({
      leaseId: lowLease.id,
      endedAt: new Date(stopAt).toISOString(),
      bidStatus: 'open',
    });

    // Each tenant's deliveries concern its own bids only, round.cleared included.
    await until(
      'the high tenant told of its allocation',
      () => types('/high').includes('bid.allocated') && types('/high').includes('round.cleared'),
    );
    expect(
      receiver
        .on('/high')
        .map((r) => r.rawBody)
        .join(),
    ).not.toContain(lowBid.id);
    expect(
      receiver
        .on('/low')
        .map((r) => r.rawBody)
        .join(),
    ).not.toContain(highBid.id);
    const cleared = receiver.on('/high').find((r) => r.body.type === 'round.cleared')!;
    expect(cleared.body.data.won).toEqual([expect.objectContaining({ bidId: highBid.id })]);
    expect(cleared.body.data.lost).toEqual([]);
    expect(highHook.id).toBeDefined();
  });
});

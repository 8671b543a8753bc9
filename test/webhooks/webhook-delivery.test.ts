import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarketEventsRepository } from '../../src/modules/leases/market-events.repository.js';
import { OutboxRelayService } from '../../src/platform/outbox/outbox-relay.service.js';
import { WebhookSweeperService } from '../../src/modules/webhooks/webhook-sweeper.service.js';
import { TransactionRunner } from '../../src/platform/database/transaction-runner.js';
import { auth, createTenant } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import {
  deliveriesOf,
  documentedRecipe,
  emit,
  registerWebhook,
  type VerifySignature,
} from './support/webhook-fixtures.js';
import { until, WEBHOOK_TEST_ENV, WebhookReceiver } from './support/webhook-receiver.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe.each([
  ['BullMQ on Redis', { REDIS_URL }],
  ['in-process jobs', {}],
])('webhook deliveries with %s', (_driver, env) => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let verify: VerifySignature;
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  const delivery = async (key: string, id: string) =>
    (await t.http().get(`/v1/webhooks/deliveries/${id}`).set(auth(key))).body;

  beforeAll(async () => {
    t = await createTestApp({
      ...WEBHOOK_TEST_ENV,
      ...env,
      WEBHOOK_DISABLE_AFTER_FAILURES: '5',
      WEBHOOK_DISABLE_AFTER_SECONDS: '0',
    });
    receiver = await new WebhookReceiver().start();
    verify = await documentedRecipe();
    tenant = await createTenant(t, 'listener');
    other = await createTenant(t, 'someone-else');
  });
  afterAll(async () => {
    await receiver?.stop();
    await t?.close();
  });

  it('delivers a signed event that the documented recipe verifies, and logs it', async () => {
    const hook = await registerWebhook(t, tenant.apiKey, receiver.url('/signed'), ['bid.expired']);
    const [eventId] = await emit(t, [
      { tenantId: tenant.id, type: 'bid.expired', data: { bidId: 'b-1', reason: 'window_closed' } },
    ]);
    await until('the delivery', () => receiver.on('/signed').length === 1);
    const [request] = receiver.on('/signed');
    const signature = request.headers['x-gpumarket-signature'] as string;
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verify(request.rawBody, signature, [hook.secret])).toBe(true);
    expect(verify(request.rawBody, signature, ['whsec_not-the-secret'])).toBe(false);
    expect(verify(request.rawBody.replace('b-1', 'b-2'), signature, [hook.secret])).toBe(false);
    expect(verify(request.rawBody, signature, [hook.secret], 300, Date.now() + 600_000)).toBe(false);
    expect(request.body).toEqual({
      id: eventId,
      type: 'bid.expired',
      createdAt: expect.any(String),
      data: { bidId: 'b-1', reason: 'window_closed' },
    });
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      'x-gpumarket-event': 'bid.expired',
      'x-gpumarket-attempt': '1',
    });

    await until(
      'the delivery recorded',
      async () => (await deliveriesOf(t, tenant.apiKey, hook.id))[0]?.status === 'succeeded',
    );
    const [logged] = await deliveriesOf(t, tenant.apiKey, hook.id);
    expect(logged).toMatchObject({
      id: request.headers['x-gpumarket-delivery'],
      eventId,
      eventType: 'bid.expired',
      attempts: 1,
      lastStatusCode: 200,
      lastError: null,
      nextAttemptAt: null,
    });
    expect(logged.lastLatencyMs).toEqual(expect.any(Number));
    expect(Date.parse(logged.deliveredAt as string)).toBeGreaterThanOrEqual(Date.parse(logged.createdAt as string));
  });

  it('a receiver failing three times and then answering gets exactly one success, and the log shows four attempts', async () => {
    receiver.answer = (path, count) => (path === '/flaky' && count <= 3 ? 500 : 200);
    const hook = await registerWebhook(t, tenant.apiKey, receiver.url('/flaky'), ['lease.completed']);
    await emit(t, [{ tenantId: tenant.id, type: 'lease.completed', data: { leaseId: 'l-1' } }]);
    await until(
      'the fourth attempt to succeed',
      async () => (await deliveriesOf(t, tenant.apiKey, hook.id))[0]?.status === 'succeeded',
    );
    await new Promise((r) => setTimeout(r, 500)); // nothing more may arrive
    const requests = receiver.on('/flaky');
    expect(requests.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(new Set(requests.map((r) => r.headers['x-gpumarket-delivery'])).size).toBe(1);
    expect(requests.map((r) => r.headers['x-gpumarket-attempt'])).toEqual(['1', '2', '3', '4']);
    for (let i = 1; i < requests.length; i++)
      expect(requests[i].receivedAt - requests[i - 1].receivedAt).toBeGreaterThanOrEqual(30); // backed off
    const [logged] = await deliveriesOf(t, tenant.apiKey, hook.id);
    expect(logged).toMatchObject({ status: 'succeeded', attempts: 4, lastStatusCode: 200 });
    const detail = await delivery(tenant.apiKey, logged.id as string);
    expect(
      detail.attemptLog.map((a: { attempt: number; statusCode: number; error: string | null }) => [
        a.attempt,
        a.statusCode,
        a.error,
      ]),
    ).toEqual([
      [1, 500, 'HTTP 500'],
      [2, 500, 'HTTP 500'],
      [3, 500, 'HTTP 500'],
      [4, 200, null],
    ]);
  });

  it('retries a receiver that does not answer within the timeout', async () => {
    receiver.answer = (path, count) => (path === '/slow' && count === 1 ? 'hang' : 200);
    const hook = await registerWebhook(t, tenant.apiKey, receiver.url('/slow'), ['lease.failed']);
    await emit(t, [{ tenantId: tenant.id, type: 'lease.failed', data: { leaseId: 'l-2' } }]);
    await until(
      'the retry to succeed',
      async () => (await deliveriesOf(t, tenant.apiKey, hook.id))[0]?.status === 'succeeded',
    );
    const [logged] = await deliveriesOf(t, tenant.apiKey, hook.id);
    const detail = await delivery(tenant.apiKey, logged.id as string);
    expect(detail.attemptLog).toEqual([
      expect.objectContaining({ attempt: 1, statusCode: null, error: 'no answer within 1000 ms' }),
      expect.objectContaining({ attempt: 2, statusCode: 200, error: null }),
    ]);
  });

  it("sends one commit's events to an endpoint as one job, and retries only the delivery that failed", async () => {
    const owner = await createTenant(t, 'batched');
    // The fourth event's first attempt fails; everything else is answered 200.
    receiver.answer = (path, _count, body) =>
      path === '/batch' && body.data.n === 3 && !receiver.on('/batch').some((r) => r.body.data.n === 3) ? 500 : 200;
    const hook = await registerWebhook(t, owner.apiKey, receiver.url('/batch'), ['bid.allocated']);
    const eventIds = await emit(
      t,
      Array.from({ length: 10 }, (_, n) => ({ tenantId: owner.id, type: 'bid.allocated' as const, data: { n } })),
    );
    await until(
      'all ten delivered',
      async () => (await deliveriesOf(t, owner.apiKey, hook.id)).filter((d) => d.status === 'succeeded').length === 10,
    );

    const requests = receiver.on('/batch');
    expect(requests.map((r) => r.body.data.n as number).sort((a, b) => a - b)).toEqual([
      0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9,
    ]);
    expect(
      requests.filter((r) => r.body.data.n === 3).map((r) => [r.status, r.headers['x-gpumarket-attempt']]),
    ).toEqual([
      [500, '1'],
      [200, '2'],
    ]);
    expect(
      requests
        .filter((r) => r.body.data.n !== 3)
        .every((r) => r.status === 200 && r.headers['x-gpumarket-attempt'] === '1'),
    ).toBe(true);
    const deliveries = await deliveriesOf(t, owner.apiKey, hook.id);
    const failedOnce = deliveries.find((d) => d.eventId === eventIds[3])!;
    expect(failedOnce).toMatchObject({ status: 'succeeded', attempts: 2, lastStatusCode: 200, lastError: null });
    expect(deliveries.filter((d) => d !== failedOnce).every((d) => d.attempts === 1 && d.lastStatusCode === 200)).toBe(
      true,
    );
    expect(
      (await delivery(owner.apiKey, failedOnce.id as string)).attemptLog.map(
        (a: { statusCode: number }) => a.statusCode,
      ),
    ).toEqual([500, 200]);
    // The commit's ten deliveries were one job; the retry of the failed one was another.
    const jobs = await t.dataSource.query(
      `SELECT job_id FROM outbox WHERE job_name = 'webhook.deliver' AND payload->>'deliveryId' = ANY($1::text[])`,
      [deliveries.map((d) => d.id)],
    );
    expect(jobs).toHaveLength(2);
  });

  it('redelivers on request as a new delivery of the same event, and only for the tenant that owns it', async () => {
    const [hook] = (await t.http().get('/v1/webhooks').set(auth(tenant.apiKey))).body.webhooks.filter(
      (w: { url: string }) => w.url.endsWith('/signed'),
    );
    const [original] = await deliveriesOf(t, tenant.apiKey, hook.id);
    for (const response of [
      await t.http().post(`/v1/webhooks/deliveries/${original.id}/redeliver`).set(auth(other.apiKey)),
      await t.http().get(`/v1/webhooks/deliveries/${original.id}`).set(auth(other.apiKey)),
    ]) {
      expect(response.status).toBe(404);
      expect(response.body.error).toBe('webhook_delivery_not_found');
    }
    const again = await t.http().post(`/v1/webhooks/deliveries/${original.id}/redeliver`).set(auth(tenant.apiKey));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({
      status: 'pending',
      redeliveryOf: original.id,
      eventId: original.eventId,
      attempts: 0,
    });
    await until('the redelivery', () => receiver.on('/signed').length === 2);
    const [first, second] = receiver.on('/signed');
    expect(second.rawBody).toBe(first.rawBody);
    expect(second.headers['x-gpumarket-delivery']).toBe(again.body.id);
    expect(second.headers['x-gpumarket-delivery']).not.toBe(first.headers['x-gpumarket-delivery']);
    await until(
      'the redelivery recorded',
      async () => (await delivery(tenant.apiKey, again.body.id)).status === 'succeeded',
    );
    expect((await delivery(tenant.apiKey, original.id as string)).attempts).toBe(1);
  });

  it("never sends a tenant another tenant's events", async () => {
    const mine = await registerWebhook(t, tenant.apiKey, receiver.url('/mine'), ['bid.allocated', 'round.cleared']);
    const theirs = await registerWebhook(t, other.apiKey, receiver.url('/theirs'), ['bid.allocated', 'round.cleared']);
    const events = [tenant, other, tenant, other, other].map((owner, i) => ({
      tenantId: owner.id,
      type: 'bid.allocated' as const,
      data: { owner: owner.id, n: i },
    }));
    await emit(t, events);
    await until('both tenants served', () => receiver.on('/mine').length === 2 && receiver.on('/theirs').length === 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.on('/mine').map((r) => r.body.data.owner)).toEqual([tenant.id, tenant.id]);
    expect(receiver.on('/theirs').map((r) => r.body.data.owner)).toEqual([other.id, other.id, other.id]);
    expect(
      receiver
        .on('/theirs')
        .every((r) => verify(r.rawBody, r.headers['x-gpumarket-signature'] as string, [theirs.secret])),
    ).toBe(true);
    expect(
      receiver
        .on('/theirs')
        .some((r) => verify(r.rawBody, r.headers['x-gpumarket-signature'] as string, [mine.secret])),
    ).toBe(false);
  });

  it('sends nothing for a change that rolls back', async () => {
    const hook = await registerWebhook(t, tenant.apiKey, receiver.url('/rolled-back'), ['bid.expired']);
    await expect(
      t.app.get(TransactionRunner).run(async (manager) => {
        await t.app
          .get(MarketEventsRepository)
          .add(manager, [{ tenantId: tenant.id, type: 'bid.expired', subjectId: hook.id, data: {} }]);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await t.app.get(OutboxRelayService).relay();
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.on('/rolled-back')).toEqual([]);
    expect(await deliveriesOf(t, tenant.apiKey, hook.id)).toEqual([]);
  });

  it('loses nothing when the queue loses the job: the sweeper sends it', async () => {
    const owner = await createTenant(t, 'lost-job');
    const hook = await registerWebhook(t, owner.apiKey, receiver.url('/lost-job'), ['bid.expired']);
    // The outbox row is marked relayed but never reaches the queue, as when Redis restarts empty.
    await t.app.get(TransactionRunner).run(async (manager) => {
      await t.app
        .get(MarketEventsRepository)
        .add(manager, [{ tenantId: owner.id, type: 'bid.expired', subjectId: hook.id, data: {} }]);
      await manager.query(
        `UPDATE outbox SET relayed_at = now() WHERE job_name = 'webhook.deliver' AND relayed_at IS NULL`,
      );
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.on('/lost-job')).toEqual([]);
    expect(await t.app.get(WebhookSweeperService).sweep(0)).toBe(1);
    await until('the swept delivery', () => receiver.on('/lost-job').length === 1);
  });

  it('signs with both secrets during a rotation grace period, and with the new one only after it', async () => {
    const hook = await registerWebhook(t, tenant.apiKey, receiver.url('/rotated'), ['lease.running']);
    const rotated = await t
      .http()
      .post(`/v1/webhooks/${hook.id}/rotate-secret?graceSeconds=2`)
      .set(auth(tenant.apiKey));
    expect(rotated.status).toBe(200);
    await emit(t, [{ tenantId: tenant.id, type: 'lease.running', data: { leaseId: 'l-3' } }]);
    await until('the delivery in the grace period', () => receiver.on('/rotated').length === 1);
    const during = receiver.on('/rotated')[0];
    const duringSignature = during.headers['x-gpumarket-signature'] as string;
    expect(duringSignature).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(verify(during.rawBody, duringSignature, [rotated.body.secret])).toBe(true);
    expect(verify(during.rawBody, duringSignature, [hook.secret])).toBe(true);

    await until(
      'the grace period to end',
      () => Date.now() > Date.parse(rotated.body.previousSecretExpiresAt) + 100,
      5_000,
    );
    await emit(t, [{ tenantId: tenant.id, type: 'lease.running', data: { leaseId: 'l-4' } }]);
    await until('the delivery after the grace period', () => receiver.on('/rotated').length === 2);
    const after = receiver.on('/rotated')[1];
    const afterSignature = after.headers['x-gpumarket-signature'] as string;
    expect(afterSignature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verify(after.rawBody, afterSignature, [rotated.body.secret])).toBe(true);
    expect(verify(after.rawBody, afterSignature, [hook.secret])).toBe(false);
    expect(
      (await t.http().get(`/v1/webhooks/${hook.id}`).set(auth(tenant.apiKey))).body.previousSecretExpiresAt,
    ).toBeNull();
  });

  it('disables an endpoint after sustained failures, says why, and resumes once re-enabled', async () => {
    let healthy = false;
    receiver.answer = (path) => (path === '/broken' && !healthy ? 503 : 200);
    const hook = await registerWebhook(t, tenant.apiKey, receiver.url('/broken'), ['lease.preempted']);
    await emit(t, [{ tenantId: tenant.id, type: 'lease.preempted', data: { leaseId: 'l-5' } }]);
    await until(
      'the endpoint disabled',
      async () => (await t.http().get(`/v1/webhooks/${hook.id}`).set(auth(tenant.apiKey))).body.enabled === false,
    );
    const disabled = (await t.http().get(`/v1/webhooks/${hook.id}`).set(auth(tenant.apiKey))).body;
    expect(disabled.disabledAt).not.toBeNull();
    expect(disabled.disabledReason).toMatch(/^5 failed attempts in a row since .*; the last: HTTP 503$/);
    expect(receiver.on('/broken')).toHaveLength(5);
    const [given] = await deliveriesOf(t, tenant.apiKey, hook.id);
    expect(given).toMatchObject({ status: 'failed', attempts: 5, nextAttemptAt: null });
    expect(given.lastError).toContain('endpoint disabled');

    // While disabled: no deliveries, and no redelivery.
    await emit(t, [{ tenantId: tenant.id, type: 'lease.preempted', data: { leaseId: 'l-6' } }]);
    expect(await deliveriesOf(t, tenant.apiKey, hook.id)).toHaveLength(1);
    expect((await t.http().post(`/v1/webhooks/deliveries/${given.id}/redeliver`).set(auth(tenant.apiKey))).status).toBe(
      409,
    );

    healthy = true;
    const enabled = await t.http().patch(`/v1/webhooks/${hook.id}`).set(auth(tenant.apiKey)).send({ enabled: true });
    expect(enabled.body).toMatchObject({ enabled: true, disabledAt: null, disabledReason: null });
    await emit(t, [{ tenantId: tenant.id, type: 'lease.preempted', data: { leaseId: 'l-7' } }]);
    await until('a delivery after re-enabling', () =>
      receiver.on('/broken').some((r) => r.status === 200 && r.body.data.leaseId === 'l-7'),
    );
  });
});

describe('webhook targets checked again at delivery', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    // Private targets refused, as in production; a retry window of one second.
    t = await createTestApp({
      WEBHOOK_SECRET_KEY: 'ef'.repeat(32),
      WEBHOOK_RETRY_BASE_MS: '100',
      WEBHOOK_RETRY_MAX_MS: '200',
      WEBHOOK_RETRY_WINDOW_SECONDS: '1',
      REDIS_URL,
    });
    receiver = await new WebhookReceiver().start();
  });
  afterAll(async () => {
    await receiver?.stop();
    await t?.close();
  });

  it('refuses to send to an endpoint whose address became private, and gives up after the retry window', async () => {
    const tenant = await createTenant(t, 'rebound');
    const hook = await registerWebhook(t, tenant.apiKey, 'https://93.184.215.14/hook', ['bid.expired']);
    // What a DNS change after registration amounts to: the endpoint now leads to this host.
    await t.dataSource.query('UPDATE webhook_endpoints SET url = $2 WHERE id = $1', [
      hook.id,
      receiver.url('/internal'),
    ]);
    await emit(t, [{ tenantId: tenant.id, type: 'bid.expired', data: {} }]);
    await until(
      'the delivery given up',
      async () => (await deliveriesOf(t, tenant.apiKey, hook.id))[0]?.status === 'failed',
      10_000,
    );
    expect(receiver.received).toEqual([]);
    const [given] = await deliveriesOf(t, tenant.apiKey, hook.id);
    expect(given.attempts).toBeGreaterThanOrEqual(2);
    expect(given.lastError).toMatch(
      /127\.0\.0\.1 is a private, loopback, link-local or reserved address.*gave up after \d+ attempts over 1 s/,
    );
    const detail = (await t.http().get(`/v1/webhooks/deliveries/${given.id}`).set(auth(tenant.apiKey))).body;
    expect(detail.attemptLog.every((a: { statusCode: number | null }) => a.statusCode === null)).toBe(true);
  });
});

describe('a hanging endpoint does not hold up other tenants', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    // Four workers, at most two attempts in flight per endpoint, a 3 s timeout, retries far off.
    t = await createTestApp({
      ...WEBHOOK_TEST_ENV,
      REDIS_URL,
      WEBHOOK_CONCURRENCY: '4',
      WEBHOOK_ENDPOINT_CONCURRENCY: '2',
      WEBHOOK_TIMEOUT_MS: '3000',
      WEBHOOK_RETRY_BASE_MS: '60000',
      WEBHOOK_RETRY_MAX_MS: '60000',
    });
    receiver = await new WebhookReceiver().start();
  });
  afterAll(async () => {
    await receiver?.stop();
    await t?.close();
  });

  it("delivers another tenant's notice at once while a hanging endpoint has a backlog, and works through the backlog two at a time", async () => {
    receiver.answer = (path) => (path === '/hanging' ? 'hang' : 200);
    const slow = await createTenant(t, 'slow');
    const quick = await createTenant(t, 'quick');
    const slowHook = await registerWebhook(t, slow.apiKey, receiver.url('/hanging'), ['lease.completed']);
    await registerWebhook(t, quick.apiKey, receiver.url('/quick'), ['lease.preemption_notice']);
    await emit(
      t,
      Array.from({ length: 8 }, (_, i) => ({ tenantId: slow.id, type: 'lease.completed' as const, data: { n: i } })),
    );
    await until('the hanging endpoint to hold its attempts', () => receiver.on('/hanging').length >= 2);
    await new Promise((r) => setTimeout(r, 300)); // every worker has had the chance to take a job by now

    const sent = Date.now();
    await emit(t, [{ tenantId: quick.id, type: 'lease.preemption_notice', data: { leaseId: 'l-9' } }]);
    await until('the other tenant served', () => receiver.on('/quick').length === 1, 2_500);
    expect(receiver.on('/quick')[0].receivedAt - sent).toBeLessThan(1_000);
    expect(receiver.on('/hanging')).toHaveLength(2);

    // Two at a time: after one timeout, two more; all eight attempted in four waves.
    await until('the backlog attempted', () => receiver.on('/hanging').length === 8, 20_000);
    const starts = receiver.on('/hanging').map((r) => r.receivedAt - receiver.on('/hanging')[0].receivedAt);
    for (let wave = 1; wave < 4; wave++) expect(starts[wave * 2]).toBeGreaterThanOrEqual(wave * 3_000 - 200);
    await until(
      'the last wave timed out',
      async () => (await deliveriesOf(t, slow.apiKey, slowHook.id)).every((d) => d.attempts === 1),
      10_000,
    );
    const deliveries = await deliveriesOf(t, slow.apiKey, slowHook.id);
    expect(deliveries.map((d) => d.lastError)).toEqual(Array(8).fill('no answer within 3000 ms'));
  }, 45_000);

  it('has at most WEBHOOK_CONCURRENCY attempts in flight in the process, however many endpoints have batches', async () => {
    receiver.answer = (path) => (path.startsWith('/stuck-') ? 'hang' : 200);
    const paths = ['/stuck-a', '/stuck-b', '/stuck-c'];
    for (const path of paths) {
      const owner = await createTenant(t, `stuck${path}`);
      await registerWebhook(t, owner.apiKey, receiver.url(path), ['lease.completed']);
      await emit(
        t,
        [1, 2].map((n) => ({ tenantId: owner.id, type: 'lease.completed' as const, data: { n } })),
      );
    }
    await until('all six attempted', () => paths.every((path) => receiver.on(path).length === 2), 20_000);
    // Each attempt hangs until its 3 s timeout: four at once (WEBHOOK_CONCURRENCY), then the last two.
    const starts = receiver.received
      .filter((r) => paths.includes(r.path))
      .map((r) => r.receivedAt)
      .sort((a, b) => a - b);
    expect(starts[3] - starts[0]).toBeLessThan(2_500);
    expect(starts[4] - starts[0]).toBeGreaterThanOrEqual(2_800);
  }, 30_000);
});

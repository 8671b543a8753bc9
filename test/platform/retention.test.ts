import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetentionService } from '../../src/modules/retention/retention.service.js';
import { auth, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';
import { deliveriesOf, emit, registerWebhook } from '../webhooks/support/webhook-fixtures.js';
import { WEBHOOK_TEST_ENV, WebhookReceiver } from '../webhooks/support/webhook-receiver.js';

/** An app with RETENTION_DAYS=`days` and a local receiver, for one describe block. */
function appWithRetention(days: string) {
  const ctx = {} as { t: TestApp; receiver: WebhookReceiver; q: (sql: string, params?: unknown[]) => Promise<any> };
  beforeAll(async () => {
    ctx.t = await createTestApp({ ...WEBHOOK_TEST_ENV, RETENTION_DAYS: days });
    ctx.receiver = await new WebhookReceiver().start();
    ctx.q = (sql, params = []) => ctx.t.dataSource.query(sql, params);
  });
  afterAll(async () => {
    await ctx.receiver?.stop();
    await ctx.t?.close();
  });
  return ctx;
}

describe('retention of webhook deliveries, events and relayed outbox rows (RETENTION_DAYS=30)', () => {
  const ctx = appWithRetention('30');
  const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

  it('deletes what is finished and past retention, and keeps pending deliveries, recent rows and rows the queue refused', async () => {
    const { t, receiver, q } = ctx;
    const tenant = await createTenant(t, 'retained');
    const hook = await registerWebhook(t, tenant.apiKey, receiver.url('/hook'), ['bid.expired']);
    const [old1, old2, stillPending, recent, unsubscribed, roundRecord] = await emit(t, [
      ...[1, 2, 3, 4].map((n) => ({ tenantId: tenant.id, type: 'bid.expired' as const, data: { n } })),
      { tenantId: tenant.id, type: 'lease.completed' as const, data: {} },
      // The round audit report reads each round's losers from these: they are never deleted.
      { tenantId: tenant.id, type: 'round.cleared' as const, data: { won: [], lost: [] } },
    ]);
    await until(
      'four deliveries',
      async () => (await deliveriesOf(t, tenant.apiKey, hook.id)).filter((d) => d.status === 'succeeded').length === 4,
    );
    const deliveryOf = async (eventId: string) =>
      (await q(`SELECT id FROM webhook_deliveries WHERE event_id = $1 ORDER BY created_at`, [eventId])).map(
        (r: { id: string }) => r.id,
      );
    const [original] = await deliveryOf(old2);
    const again = await t.http().post(`/v1/webhooks/deliveries/${original}/redeliver`).set(auth(tenant.apiKey));
    expect(again.status).toBe(202);
    await until(
      'the redelivery',
      async () =>
        (await q(`SELECT status FROM webhook_deliveries WHERE id = $1`, [again.body.id]))[0].status === 'succeeded',
    );

    // Forty days pass for all but `recent`; the delivery of `stillPending` is retrying.
    const old = [old1, old2, stillPending, unsubscribed, roundRecord];
    await q(`UPDATE market_events SET created_at = $2 WHERE id = ANY($1::uuid[])`, [old, ago(40)]);
    await q(`UPDATE webhook_deliveries SET created_at = $2 WHERE event_id = ANY($1::uuid[])`, [old, ago(40)]);
    await q(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now() + interval '1 hour' WHERE event_id = $1`,
      [stillPending],
    );
    const relayed: Array<{ id: string }> = await q(`SELECT id FROM outbox WHERE relayed_at IS NOT NULL`);
    await q(`UPDATE outbox SET relayed_at = $1 WHERE relayed_at IS NOT NULL`, [ago(2)]);
    // One job for the endpoint's four deliveries of one commit, and one for the redelivery.
    expect(relayed.length).toBeGreaterThanOrEqual(2);
    const [refused] = await q(
      `INSERT INTO outbox (job_name, payload, failed_at, error, created_at) VALUES ('lease.sync', '{}', $1, 'refused', $1) RETURNING id`,
      [ago(40)],
    );
    const [fresh] = await emit(t, [{ tenantId: tenant.id, type: 'bid.expired', data: { n: 5 } }]);
    await until(
      'the fresh delivery',
      async () =>
        (await q(`SELECT status FROM webhook_deliveries WHERE event_id = $1`, [fresh]))[0]?.status === 'succeeded',
    );
    const oldDeliveries = [...(await deliveryOf(old1)), original, again.body.id];

    const counts = await t.app.get(RetentionService).sweep();

    expect(counts).toEqual({ deliveries: 3, events: 3, outbox: relayed.length, nodePrices: 0, serviceTraffic: 0 });
    expect(await q(`SELECT id FROM webhook_deliveries WHERE id = ANY($1::uuid[])`, [oldDeliveries])).toEqual([]);
    expect(
      await q(`SELECT delivery_id FROM webhook_attempts WHERE delivery_id = ANY($1::uuid[])`, [oldDeliveries]),
    ).toEqual([]);
    const events = (
      await q(`SELECT id FROM market_events WHERE id = ANY($1::uuid[])`, [
        [old1, old2, stillPending, recent, unsubscribed, roundRecord, fresh],
      ])
    ).map((r: { id: string }) => r.id);
    expect(events.sort()).toEqual([stillPending, recent, roundRecord, fresh].sort());
    const listed = (await deliveriesOf(t, tenant.apiKey, hook.id)).map((d) => d.eventId);
    expect(listed.sort()).toEqual([stillPending, recent, fresh].sort());
    const outbox = (await q(`SELECT id FROM outbox`)).map((r: { id: string }) => r.id);
    expect(outbox).toContain(refused.id);
    expect(outbox.some((id: string) => !relayed.some((r) => r.id === id) && id !== refused.id)).toBe(true);
    expect(outbox.filter((id: string) => relayed.some((r) => r.id === id))).toEqual([]);

    // A second sweep finds nothing more to delete.
    expect(await t.app.get(RetentionService).sweep()).toEqual({
      deliveries: 0,
      events: 0,
      outbox: 0,
      nodePrices: 0,
      serviceTraffic: 0,
    });
  });

  it('deletes node prices past retention and keeps recent ones and every pool price', async () => {
    const { t, q } = ctx;
    const provider = await createProvider(t, 'priced');
    const [priced] = await putNodes(t, provider.apiKey, [node('priced-1')]);
    const roundAt = async (at: Date) =>
      (await q(`INSERT INTO rounds (period_start, state) VALUES ($1, 'committed') RETURNING id`, [at]))[0].id as string;
    const [oldRound, newRound] = [await roundAt(ago(40)), await roundAt(ago(1))];
    for (const [round, at] of [
      [oldRound, ago(40)],
      [newRound, ago(1)],
    ] as const) {
      await q(
        `INSERT INTO node_prices (round_id, period_start, node_id, provider_id, gpu_model, region, reserve_price, price) VALUES ($1, $2, $3, $4, 'H100-SXM-80GB', 'eu-west', 1.5, 2.1)`,
        [round, at, priced.id, provider.id],
      );
      await q(
        `INSERT INTO pool_prices (round_id, period_start, gpu_model, region, price, supply_gpus, sold_gpus) VALUES ($1, $2, 'H100-SXM-80GB', 'eu-west', 1.5, 8, 8)`,
        [round, at],
      );
    }

    expect((await t.app.get(RetentionService).sweep()).nodePrices).toBe(1);
    expect(await q(`SELECT round_id FROM node_prices WHERE node_id = $1`, [priced.id])).toEqual([
      { round_id: newRound },
    ]);
    expect(
      (
        await q(`SELECT count(*)::int AS n FROM pool_prices WHERE round_id = ANY($1::uuid[])`, [[oldRound, newRound]])
      )[0].n,
    ).toBe(2);
  });

  it("deletes services' per-minute request counts past retention and keeps their totals", async () => {
    const { t, q } = ctx;
    const tenant = await createTenant(t, 'counted');
    const [svc] = await q(
      `INSERT INTO services (id, tenant_id, name, replica, workload, min_replicas, max_replicas, target_concurrency,
         scale_down_delay_seconds, scale_to_zero_after_seconds, max_pending_requests, pending_timeout_seconds,
         stable_window_seconds, panic_window_seconds, invoke_key_hash, invoke_key_prefix, requests_total)
       VALUES (gen_random_uuid(), $1, 'counted', '{}', '{}', 0, 1, 1, 300, 600, 100, 120, 60, 6, 'h-counted', 'gms_x', 12)
       RETURNING id`,
      [tenant.id],
    );
    await q(
      `INSERT INTO service_traffic (service_id, minute, requests) VALUES ($1, date_trunc('minute', $2::timestamptz), 5), ($1, date_trunc('minute', now()), 7)`,
      [svc.id, ago(40)],
    );
    expect((await t.app.get(RetentionService).sweep()).serviceTraffic).toBe(1);
    expect(await q(`SELECT requests::int FROM service_traffic WHERE service_id = $1`, [svc.id])).toEqual([
      { requests: 7 },
    ]);
    expect((await q(`SELECT requests_total::int FROM services WHERE id = $1`, [svc.id]))[0].requests_total).toBe(12);
  });
});

describe('retention with RETENTION_DAYS=0', () => {
  const ctx = appWithRetention('0');

  it('keeps deliveries and events forever, and still clears relayed outbox rows', async () => {
    const { t, receiver, q } = ctx;
    const tenant = await createTenant(t, 'forever');
    const hook = await registerWebhook(t, tenant.apiKey, receiver.url('/hook'), ['bid.expired']);
    const [event] = await emit(t, [{ tenantId: tenant.id, type: 'bid.expired', data: {} }]);
    await until('the delivery', async () => (await deliveriesOf(t, tenant.apiKey, hook.id))[0]?.status === 'succeeded');
    await q(`UPDATE market_events SET created_at = now() - interval '10 years' WHERE id = $1`, [event]);
    await q(`UPDATE webhook_deliveries SET created_at = now() - interval '10 years' WHERE event_id = $1`, [event]);
    const relayed = (await q(`SELECT count(*)::int AS n FROM outbox WHERE relayed_at IS NOT NULL`))[0].n;
    expect(relayed).toBeGreaterThan(0);
    await q(`UPDATE outbox SET relayed_at = now() - interval '2 days' WHERE relayed_at IS NOT NULL`);

    expect(await t.app.get(RetentionService).sweep()).toEqual({
      deliveries: 0,
      events: 0,
      outbox: relayed,
      nodePrices: 0,
      serviceTraffic: 0,
    });
    expect(await deliveriesOf(t, tenant.apiKey, hook.id)).toHaveLength(1);
  });
});
